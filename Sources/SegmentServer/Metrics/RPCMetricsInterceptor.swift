import GRPCCore
import Metrics
import SegmentDomain

/// Counts calls by method and status code and records their latency
/// (`segmentd_rpc_requests_total`, `segmentd_rpc_duration_seconds`). Streaming
/// calls are measured until their response stream ends.
struct RPCMetricsInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = context.descriptor.fullyQualifiedMethod
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            if case .failure(let error) = response.accepted {
                Self.record(method: method, code: Self.codeName(error), since: start)
            }
            return response.wrappingProducer { producer, writer in
                do {
                    let trailers = try await producer(writer)
                    Self.record(method: method, code: "OK", since: start)
                    return trailers
                } catch {
                    Self.record(method: method, code: Self.codeName(error), since: start)
                    throw error
                }
            }
        } catch {
            Self.record(method: method, code: Self.codeName(error), since: start)
            throw error
        }
    }

    static func record(method: String, code: String, since start: ContinuousClock.Instant) {
        Counter(label: "segmentd_rpc_requests_total", dimensions: [("method", method), ("code", code)]).increment()
        Metrics.Timer(label: "segmentd_rpc_duration_seconds", dimensions: [("method", method)])
            .record(duration: ContinuousClock.now - start)
    }

    /// The standard gRPC name of the error's code (`PERMISSION_DENIED`), as dashboards and alerts spell it.
    static func codeName(_ error: any Error) -> String {
        if let error = error as? RPCError { return APIError.name(of: error.code) }
        if let error = error as? any RPCErrorConvertible { return APIError.name(of: error.rpcErrorCode) }
        return "UNKNOWN"
    }
}
