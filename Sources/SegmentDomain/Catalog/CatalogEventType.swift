import Foundation
import SegmentRules

/// An event type with its properties.
public struct CatalogEventType: Sendable {
    public let name: String
    public let count: Int64
    public let firstSeen: Date
    public let lastSeen: Date
    public let properties: [(key: String, type: ValueType)]

    package init(name: String, count: Int64, firstSeen: Date, lastSeen: Date, properties: [(key: String, type: ValueType)]) {
        self.name = name
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.properties = properties
    }
}
