import SegmentDomain

/// The authenticated caller and request facts, available to every handler of a call.
///
/// Set by ``AccessInterceptor`` as a task-local around the handler and its
/// response stream, so services read it without threading it through.
public struct RequestContext: Sendable {
    /// Who is calling.
    public let principal: Principal
    /// The fully qualified method (`segmentd.v1.AccessService/CreateApiKey`).
    public let method: String
    /// Whether the method changes state (and so is audited).
    public let mutates: Bool
    /// The `x-request-id` the client sent, or one made up by the server.
    public let requestID: String
    /// The caller's address.
    public let peer: String
    /// The caller's `user-agent`.
    public let userAgent: String

    /// The current call's context; nil outside authenticated calls.
    @TaskLocal public static var current: RequestContext?

    /// The current context, or UNAUTHENTICATED when there is none (a wiring bug).
    static func require() throws -> RequestContext {
        guard let current else { throw APIError.unauthenticated(.missing) }
        return current
    }

    /// The actor as the audit log records it.
    var auditActor: AuditActor {
        AuditActor(
            name: principal.keyName, display: principal.keyDisplayPrefix, requestID: requestID, peer: peer,
            userAgent: userAgent)
    }

    /// The audit context of a change made by this call, recorded in `tenant`'s chain
    /// (the caller's own tenant unless given).
    func audit(in tenant: TenantID? = nil) -> AuditContext {
        AuditContext(
            tenant: tenant ?? principal.tenantID, actor: auditActor, action: method,
            resultCode: { error in APIError(mapping: error).codeName })
    }
}
