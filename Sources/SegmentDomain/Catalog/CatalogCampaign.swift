import Foundation
import SegmentRules

/// A campaign.
public struct CatalogCampaign: Sendable {
    public let id: String
    public let firstSend: Date?
    public let lastSeen: Date
    public let counts: [String: Int64]

    package init(id: String, firstSend: Date?, lastSeen: Date, counts: [String: Int64]) {
        self.id = id
        self.firstSend = firstSend
        self.lastSeen = lastSeen
        self.counts = counts
    }
}
