import Foundation

/// Who is changing what, for the audit entry of a change.
public struct AuditContext: Sendable {
    /// The tenant whose chain records the change.
    public var tenant: TenantID
    public var actor: AuditActor
    /// The RPC method or job action.
    public var action: String
    /// Names the outcome of a failed change (a gRPC status code name).
    public var resultCode: @Sendable (any Error) -> String

    public init(tenant: TenantID, actor: AuditActor, action: String, resultCode: @escaping @Sendable (any Error) -> String) {
        self.tenant = tenant
        self.actor = actor
        self.action = action
        self.resultCode = resultCode
    }
}
