import GRPCCore

extension ServerContext {
    /// Runs `body` until it returns or the call is cancelled — its deadline passed, the
    /// client went away or the server is stopping — and then cancels it. gRPC signals
    /// that through the context's handle, not by cancelling the handler's task, so a
    /// handler that waits (for a job, for a slow client) would otherwise outlive its call.
    func untilCancelled(_ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await self.cancellation.cancelled
                throw CancellationError()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
