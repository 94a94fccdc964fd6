import Foundation

/// What a change writes into its audit entry, filled in as the change learns it.
public struct AuditRecord: Sendable {
    /// The resource acted on.
    public var resource: String
    /// Changed fields before.
    public var before: AuditFields?
    /// Changed fields after.
    public var after: AuditFields?

    public init(resource: String, before: AuditFields? = nil, after: AuditFields? = nil) {
        self.resource = resource
        self.before = before
        self.after = after
    }
}
