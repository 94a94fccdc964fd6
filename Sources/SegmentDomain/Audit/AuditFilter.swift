import Foundation

/// Filters for listing audit entries.
public struct AuditFilter: Sendable {
    /// An actor name (`tenants/…/apiKeys/…`, `system`, `anonymous`, `jobs/…`), or an API
    /// key's display name (any case), id or display prefix: people know their keys by name.
    public var actor: String?
    /// Exact action, or a prefix ending in `*`.
    public var action: String?
    /// Exact resource, or a prefix ending in `*`.
    public var resource: String?
    public var start: Date?
    public var end: Date?
    /// Only entries after this sequence number.
    public var afterSequence: Int64?
    /// Oldest first.
    public var ascending = false

    public init() {}
}
