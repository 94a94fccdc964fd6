import Foundation
import SegmentRules

public enum ConnectorChange: String, Sendable { case add, remove }
