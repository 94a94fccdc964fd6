import GRPCCore
import SegmentdAPI

extension SegmentdConnection {
    /// The hash (lowercase hex) of entry `sequence` of the audit chain of `parent`
    /// (`tenants/{tenant}`), or nil when the chain has no such entry.
    public func auditHash(parent: String, sequence: Int64) async throws -> String? {
        let page = try await audit.listAuditEvents(
            .with {
                $0.parent = parent
                $0.afterSequence = sequence - 1
                $0.ascending = true
                $0.pageSize = 1
            }, metadata: metadata)
        guard let event = page.auditEvents.first, event.sequence == sequence else { return nil }
        return event.hash.lowercased()
    }
}
