import Foundation
import GRPCCore
import Logging
import SegmentStore

/// Authenticates every call except health checks and runs the handler (and its
/// response stream) with ``RequestContext/current`` set.
///
/// The key is read from `authorization: Bearer <key>` or `x-api-key`.
struct AuthenticationInterceptor: ServerInterceptor {
    let authenticator: Authenticator
    let health: HealthMonitor
    let logger: Logger

    /// Services callable without a key.
    static let publicServices: Set<String> = ["grpc.health.v1.Health"]

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        if Self.publicServices.contains(context.descriptor.service.fullyQualifiedService) {
            return try await next(request, context)
        }
        guard health.status == .serving else { throw APIError.notServing }
        let presented = Self.presentedKey(request.metadata)
        let principal: Principal
        switch try await authenticator.authenticate(presented) {
        case .success(let resolved):
            principal = resolved
        case .failure(let failure):
            logger.info(
                "rejected a call", metadata: ["method": "\(context.descriptor.fullyQualifiedMethod)",
                                              "reason": "\(failure)", "peer": "\(context.remotePeer)"])
            throw APIError.unauthenticated(failure)
        }
        let requestContext = RequestContext(
            principal: principal,
            requestID: Self.firstString(request.metadata, "x-request-id") ?? UUID().uuidString.lowercased(),
            peer: context.remotePeer,
            userAgent: Self.firstString(request.metadata, "user-agent") ?? "")
        return try await RequestContext.$current.withValue(requestContext) {
            var response = try await next(request, context)
            if case .success(var contents) = response.accepted {
                let producer = contents.producer
                contents.producer = { writer in
                    try await RequestContext.$current.withValue(requestContext) { try await producer(writer) }
                }
                response.accepted = .success(contents)
            }
            return response
        }
    }

    static func firstString(_ metadata: Metadata, _ key: String) -> String? {
        for value in metadata[stringValues: key] { return String(value) }
        return nil
    }

    /// The key from `authorization: Bearer …` or `x-api-key`.
    static func presentedKey(_ metadata: Metadata) -> String? {
        for value in metadata[stringValues: "authorization"] {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.lowercased().hasPrefix("bearer ") {
                return String(trimmed.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
            }
        }
        for value in metadata[stringValues: "x-api-key"] {
            return value.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
