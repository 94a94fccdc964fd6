import Foundation
import SegmentDomain
import SegmentStore

/// Reading and verifying a tenant's hash-chained audit log, and recording refused calls.
public struct AuditTrail: Sendable {
    let log: AuditLog

    public init(log: AuditLog) {
        self.log = log
    }

    public func list(
        tenant: TenantID, filter: AuditFilter, pageSize: Int, pageToken: String?
    ) async throws -> (events: [AuditEventRecord], nextPageToken: String?) {
        try await log.list(tenant: tenant, filter: filter, pageSize: pageSize, pageToken: pageToken)
    }

    /// Recomputes the chain and reports the first entry that does not match.
    public func verify(tenant: TenantID) async throws -> AuditVerification {
        try await log.verify(tenant: tenant)
    }

    /// Records an entry outside any change (a refused call).
    public func append(_ entry: AuditEntry, tenant: TenantID) async throws {
        try await log.append(entry, tenant: tenant)
    }
}
