import Foundation

/// What a connector sync did: ids the connector sent, how many matched known
/// users (the rest are counted and sampled, never dropped silently), and the
/// membership change.
public struct ConnectorSyncResult: Sendable, Equatable, Codable {
    public var connectorCount: Int64
    public var matchedCount: Int64
    public var unmatchedCount: Int64
    public var unmatchedSample: [String]
    public var size: Int64
    public var entered: Int64
    public var exited: Int64
    /// A pull answered 304 Not Modified: nothing changed.
    public var notModified: Bool

    public init(
        connectorCount: Int64 = 0, matchedCount: Int64 = 0, unmatchedCount: Int64 = 0, unmatchedSample: [String] = [],
        size: Int64 = 0, entered: Int64 = 0, exited: Int64 = 0, notModified: Bool = false
    ) {
        self.connectorCount = connectorCount
        self.matchedCount = matchedCount
        self.unmatchedCount = unmatchedCount
        self.unmatchedSample = unmatchedSample
        self.size = size
        self.entered = entered
        self.exited = exited
        self.notModified = notModified
    }

    enum CodingKeys: String, CodingKey {
        case connectorCount = "connector_count"
        case matchedCount = "matched_count"
        case unmatchedCount = "unmatched_count"
        case unmatchedSample = "unmatched_sample"
        case size, entered, exited
        case notModified = "not_modified"
    }

    /// How many unmatched ids a result lists.
    public static let sampleSize = 10

    /// The unmatched ids of a *pulled* file that may be shown to the caller. A
    /// pull reads what a remote server answers, which need not be a list of ids
    /// at all; so a sample is shown only when most ids matched the tenant's users
    /// (the file is such a list), and only ids shaped like one (1-64 of letters,
    /// digits and `._:@+-`). Otherwise the result has the count alone.
    public static func pulledSample(_ candidates: [String], matched: Int64, unmatched: Int64) -> [String] {
        guard matched >= unmatched else { return [] }
        return Array(candidates.filter(looksLikeUserID).prefix(sampleSize))
    }

    static func looksLikeUserID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "+"), UInt8(ascii: "-"): true
                default: false
                }
            }
    }

    package var auditFields: AuditFields {
        [
            "connector_count": .number(Double(connectorCount)), "matched_count": .number(Double(matchedCount)),
            "unmatched_count": .number(Double(unmatchedCount)), "size": .number(Double(size)),
            "entered": .number(Double(entered)), "exited": .number(Double(exited)),
        ]
    }
}

/// A full-replace session (or a file import's staging area).
public struct ReplaceSessionRecord: Sendable, Equatable {
    public enum State: String, Sendable { case open, committed, aborted }
    public enum Mode: String, Sendable { case replace, add }

    public let tenantID: TenantID
    public let sessionID: Int64
    public let segmentID: String
    public let syncID: String
    public let mode: Mode
    /// `open` past its expiry reads as `aborted`: an abandoned session changes nothing.
    public let state: State
    public let staged: Int64
    public let expiresAt: Date

    /// `tenants/{tenant}/segments/{segment}/replaceSessions/{id}`.
    public var name: String { "tenants/\(tenantID)/segments/\(segmentID)/replaceSessions/\(sessionID)" }

    package init(tenantID: TenantID, sessionID: Int64, segmentID: String, syncID: String, mode: Mode, state: State, staged: Int64, expiresAt: Date) {
        self.tenantID = tenantID
        self.sessionID = sessionID
        self.segmentID = segmentID
        self.syncID = syncID
        self.mode = mode
        self.state = state
        self.staged = staged
        self.expiresAt = expiresAt
    }
}
