import Foundation

/// A stored audit entry.
public struct AuditEventRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let sequence: Int64
    public let time: Date
    public let actor: AuditActor
    public let action: String
    public let resource: String
    public let result: String
    /// JSON text of the before fields, if any.
    public let before: String?
    /// JSON text of the after fields, if any.
    public let after: String?
    /// Hex SHA-256 of the previous entry's hash and this entry.
    public let hash: String
    public let previousHash: String
    /// The display name of the API key in `actor`, as it is now (nil when the actor is
    /// not one of the tenant's keys). Looked up when listing, not stored in the entry:
    /// the hash covers what was written, and entries written before keys had names
    /// shown get them too.
    public let actorKeyDisplayName: String?

    package init(
        tenantID: TenantID, sequence: Int64, time: Date, actor: AuditActor, action: String, resource: String, result: String, before: String?,
        after: String?, hash: String, previousHash: String, actorKeyDisplayName: String? = nil
    ) {
        self.tenantID = tenantID
        self.sequence = sequence
        self.time = time
        self.actor = actor
        self.action = action
        self.resource = resource
        self.result = result
        self.before = before
        self.after = after
        self.hash = hash
        self.previousHash = previousHash
        self.actorKeyDisplayName = actorKeyDisplayName
    }
}
