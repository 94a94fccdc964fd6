import Foundation
import GRPCCore
import Logging
import SegmentDomain

/// Maps every error a handler throws to an ``APIError`` (status code plus
/// details), logging the internal detail once. Anything that would otherwise
/// reach a client as UNKNOWN is logged as a bug.
///
/// grpc-swift wraps a non-RPC error thrown at an inner interceptor level as an
/// UNKNOWN `RPCError` whose cause is the original; that cause is mapped here too.
///
/// Every call gets its request id here (the client's `x-request-id`, or a new
/// one, passed on to the inner interceptors): an INTERNAL error carries it in its
/// message and details, and its log line too, so an operator finds the cause.
struct ErrorMappingInterceptor: ServerInterceptor {
    let logger: Logger

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = context.descriptor.fullyQualifiedMethod
        var request = request
        let requestID: String
        let sent = AccessInterceptor.firstString(request.metadata, "x-request-id") ?? ""
        if !sent.isEmpty && sent.count <= 100 {
            requestID = sent
        } else {
            // Missing, or too long to record: the inner interceptors (and so the audit entry) see the one used here.
            requestID = sent.isEmpty ? UUID().uuidString.lowercased() : String(sent.prefix(100))
            request.metadata.removeAllValues(forKey: "x-request-id")
            request.metadata.addString(requestID, forKey: "x-request-id")
        }
        let logger = self.logger
        do {
            var response = try await next(request, context).wrappingProducer { [logger] producer, writer in
                do { return try await producer(writer) } catch { throw Self.map(error, method: method, requestID: requestID, logger: logger) }
            }
            if case .failure(let error) = response.accepted, error.code == .unknown, let cause = error.cause {
                // An inner interceptor level already wrapped a domain error as UNKNOWN; map the original.
                response.accepted = .failure(Self.rpcError(Self.map(cause, method: method, requestID: requestID, logger: logger)))
            }
            return response
        } catch {
            throw Self.map(error, method: method, requestID: requestID, logger: logger)
        }
    }

    static func rpcError(_ error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        if let error = error as? any RPCErrorConvertible { return RPCError(error) }
        return RPCError(code: .internalError, message: "internal error")
    }

    static func map(_ error: any Error, method: String, requestID: String, logger: Logger) -> any Error {
        if error is RPCError { return error }
        var mapped = APIError(mapping: error)
        if mapped.code == .internalError {
            mapped.message = "internal error (request id \(requestID))"
            mapped.metadata["request_id"] = requestID
            logger.error(
                "unmapped error", metadata: ["method": "\(method)", "request_id": "\(requestID)", "error": "\(String(reflecting: error))"])
        } else if !(error is APIError) {
            logger.debug("mapped error", metadata: ["method": "\(method)", "error": "\(String(reflecting: error))"])
        }
        return mapped
    }
}
