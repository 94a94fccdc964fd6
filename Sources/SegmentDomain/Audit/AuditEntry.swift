import Foundation

/// One entry to append. Sequence, time and hashes are assigned by the database.
public struct AuditEntry: Sendable {
    public var actor: AuditActor
    /// The RPC method (`segmentd.v1.AccessService/CreateApiKey`) or job action.
    public var action: String
    /// The resource acted on.
    public var resource: String
    /// The outcome as a gRPC status code name (`OK`, `PERMISSION_DENIED`, …).
    public var result: String
    public var before: AuditFields?
    public var after: AuditFields?

    public init(
        actor: AuditActor, action: String, resource: String, result: String, before: AuditFields? = nil,
        after: AuditFields? = nil
    ) {
        self.actor = actor
        self.action = action
        self.resource = resource
        self.result = result
        self.before = before
        self.after = after
    }
}
