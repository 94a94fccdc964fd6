import Foundation
import SegmentDomain
import SegmentStore

/// User data in atomic batches: each is validated whole, then written (and audited) in one transaction.
public struct Ingestion: Sendable {
    let store: IngestStore

    public init(store: IngestStore) {
        self.store = store
    }

    public func ingestEvents(_ events: [EventInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try await store.ingestEvents(events, tenant: tenant, audit: audit)
    }

    public func upsertProfiles(
        _ profiles: [ProfileInput], mode: ProfileUpsertMode, removing: [String], tenant: TenantID, audit: AuditContext
    ) async throws -> IngestResult {
        if mode == .replace && !removing.isEmpty {
            throw DomainError.invalid("remove_attributes", "only with mode MERGE (REPLACE removes what is not sent)")
        }
        return try await store.upsertProfiles(profiles, mode: mode, removing: removing, tenant: tenant, audit: audit)
    }

    public func recordResponses(_ responses: [ResponseInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try await store.recordResponses(responses, tenant: tenant, audit: audit)
    }

    public func recordLocations(_ locations: [LocationInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try await store.recordLocations(locations, tenant: tenant, audit: audit)
    }
}
