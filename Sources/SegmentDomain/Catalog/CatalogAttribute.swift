import Foundation
import SegmentRules

/// An attribute.
public struct CatalogAttribute: Sendable {
    public let key: String
    public let type: ValueType
    public let count: Int64
    public let firstSeen: Date
    public let lastSeen: Date

    package init(key: String, type: ValueType, count: Int64, firstSeen: Date, lastSeen: Date) {
        self.key = key
        self.type = type
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}
