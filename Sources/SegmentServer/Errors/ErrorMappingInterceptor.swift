import GRPCCore
import Logging
import SegmentDomain

/// Maps every error a handler throws to an ``APIError`` (status code plus
/// details), logging the internal detail once. Anything that would otherwise
/// reach a client as UNKNOWN is logged as a bug.
///
/// grpc-swift wraps a non-RPC error thrown at an inner interceptor level as an
/// UNKNOWN `RPCError` whose cause is the original; that cause is mapped here too.
struct ErrorMappingInterceptor: ServerInterceptor {
    let logger: Logger

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = context.descriptor.fullyQualifiedMethod
        let logger = self.logger
        do {
            var response = try await next(request, context).wrappingProducer { producer, writer in
                do { return try await producer(writer) } catch { throw Self.map(error, method: method, logger: logger) }
            }
            if case .failure(let error) = response.accepted, error.code == .unknown, let cause = error.cause {
                // An inner interceptor level already wrapped a domain error as UNKNOWN; map the original.
                response.accepted = .failure(Self.rpcError(Self.map(cause, method: method, logger: logger)))
            }
            return response
        } catch {
            throw Self.map(error, method: method, logger: logger)
        }
    }

    static func rpcError(_ error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        if let error = error as? any RPCErrorConvertible { return RPCError(error) }
        return RPCError(code: .internalError, message: "internal error")
    }

    static func map(_ error: any Error, method: String, logger: Logger) -> any Error {
        if error is RPCError { return error }
        let mapped = APIError(mapping: error)
        if mapped.code == .internalError {
            logger.error(
                "unmapped error", metadata: ["method": "\(method)", "error": "\(String(reflecting: error))"])
        } else if !(error is APIError) {
            logger.debug("mapped error", metadata: ["method": "\(method)", "error": "\(String(reflecting: error))"])
        }
        return mapped
    }
}
