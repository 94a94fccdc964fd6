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

    /// Every chain's head sequence number, by tenant (for signed checkpoints).
    public func heads() async throws -> [TenantID: Int64] {
        try await log.heads()
    }

    /// The hashes (hex) of `tenant`'s entries at `sequences`; missing entries are absent.
    public func hashes(tenant: TenantID, sequences: [Int64]) async throws -> [Int64: String] {
        try await log.hashes(tenant: tenant, sequences: sequences)
    }

    /// Records an entry outside any change (a refused call).
    public func append(_ entry: AuditEntry, tenant: TenantID) async throws {
        try await log.append(entry, tenant: tenant)
    }
}
