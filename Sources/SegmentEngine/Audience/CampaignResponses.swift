import SegmentRules
import SegmentStore

/// Campaign responses by campaign and kind. `clicked campaign X` reads one
/// entry; `any campaign` reads every campaign's entry of the kind; `last
/// campaign` is a campaign id the evaluation context supplies.
public struct CampaignResponses: Sendable {
    /// Which responses an entry holds.
    public struct Key: Hashable, Sendable {
        /// The campaign id, compared by its bytes.
        public var campaign: UTF8Key
        public var kind: ResponseKind
        public init(campaign: String, kind: ResponseKind) {
            self.campaign = UTF8Key(campaign)
            self.kind = kind
        }
    }

    /// Every (campaign, kind) with at least one response.
    public private(set) var entries: [Key: ResponseColumns] = [:]

    public init() {}

    /// The responses of `kind` to `campaign` (empty when none).
    public subscript(campaign: String, kind: ResponseKind) -> ResponseColumns {
        entries[Key(campaign: campaign, kind: kind)] ?? ResponseColumns()
    }

    /// How many responses in all.
    public var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    mutating func append(_ batch: AudienceRows.Responses, live: MemberBitmap) throws -> Int {
        let key = Key(campaign: batch.campaign, kind: batch.kind)
        var columns = entries.removeValue(forKey: key) ?? ResponseColumns()
        let skipped = try columns.append(batch, live: live)
        if columns.count > 0 { entries[key] = columns }
        return skipped
    }

    mutating func shrink() {
        for key in entries.keys {
            entries[key]!.sortByTime()
            entries[key]!.shrink()
        }
    }

    public var bytesHeld: Int {
        entries.reduce(0) { $0 + $1.value.bytesHeld + MemoryEstimate.heapBytes(of: $1.key.campaign.string) }
            + MemoryEstimate.dictionaryBytes(count: entries.count, entry: MemoryLayout<Key>.stride + MemoryLayout<ResponseColumns>.stride)
    }
}
