import SegmentStore

/// The authenticated caller and request facts, available to every handler of a call.
///
/// Set by ``AuthenticationInterceptor`` as a task-local around the handler and its
/// response stream, so services read it without threading it through.
public struct RequestContext: Sendable {
    /// Who is calling.
    public let principal: Principal
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
}
