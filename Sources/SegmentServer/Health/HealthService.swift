import GRPCCore
import SegmentDomain
import SegmentdAPI

/// `grpc.health.v1.Health`: the standard health protocol, so stock checkers work.
/// Answers for the server as a whole (empty service name) and for each service
/// of the contract by its fully qualified name.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let monitor: HealthMonitor
    let knownServices: Set<String>

    func check(
        request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard isKnown(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
        }
        return .with { $0.status = Self.wire(monitor.status) }
    }

    func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        guard isKnown(request.service) else {
            try await response.write(.with { $0.status = .serviceUnknown })
            return
        }
        for await status in monitor.updates() {
            try await response.write(.with { $0.status = Self.wire(status) })
        }
    }

    private func isKnown(_ service: String) -> Bool {
        service.isEmpty || knownServices.contains(service)
    }

    static func wire(_ status: HealthMonitor.Status) -> Grpc_Health_V1_HealthCheckResponse.ServingStatus {
        switch status {
        case .serving: return .serving
        case .notServing: return .notServing
        }
    }
}
