import GRPCCore
import SegmentDomain

extension StreamingServerResponse {
    /// The response with its stream producer wrapped, for interceptors that must
    /// see the stream's end or errors, or run it with a task-local set. A
    /// rejected response is returned unchanged.
    func wrappingProducer(
        _ wrap:
            @escaping @Sendable (
                _ producer: @escaping @Sendable (RPCWriter<Message>) async throws -> Metadata,
                _ writer: RPCWriter<Message>
            ) async throws -> Metadata
    ) -> Self {
        guard case .success(var contents) = accepted else { return self }
        let producer = contents.producer
        contents.producer = { writer in try await wrap(producer, writer) }
        var response = self
        response.accepted = .success(contents)
        return response
    }
}
