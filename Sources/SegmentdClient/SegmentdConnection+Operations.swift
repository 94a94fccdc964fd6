import GRPCCore
import SegmentdAPI

extension SegmentdConnection {
    /// Follows an operation until it is done (WaitOperation), calling `update`
    /// on every change; returns its final state.
    public func wait(
        operation name: String, update: @escaping @Sendable (Segmentd_V1_Operation) -> Void = { _ in }
    ) async throws -> Segmentd_V1_Operation {
        let request = ClientRequest(message: Segmentd_V1_GetOperationRequest.with { $0.name = name }, metadata: metadata)
        return try await operations.waitOperation(request: request) { response in
            var last = Segmentd_V1_Operation()
            for try await operation in response.messages {
                update(operation)
                last = operation
            }
            return last
        }
    }
}
