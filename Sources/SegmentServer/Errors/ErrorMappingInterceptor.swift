import GRPCCore
import Logging

/// Maps every error a handler throws to an ``APIError`` (status code plus
/// details), logging the internal detail once. Anything that would otherwise
/// reach a client as UNKNOWN is logged as a bug.
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
            var response = try await next(request, context)
            if case .success(var contents) = response.accepted {
                let producer = contents.producer
                contents.producer = { writer in
                    do { return try await producer(writer) } catch { throw Self.map(error, method: method, logger: logger) }
                }
                response.accepted = .success(contents)
            } else if case .failure(let error) = response.accepted {
                response.accepted = .failure(error)
            }
            return response
        } catch {
            throw Self.map(error, method: method, logger: logger)
        }
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
