import Foundation
import SegmentDomain
import SegmentStore

/// User data in atomic batches: each is validated whole against the limits
/// (every problem reported, nothing written), then written — with the types
/// checked against the catalog, and audited — in one transaction.
public struct Ingestion: Sendable {
    let store: IngestStore
    let limits: IngestLimits
    let clock: @Sendable () -> Date
    /// Told of each event batch as it commits, so the engine holds it before the call returns.
    let audiences: AudienceRegistry?

    public init(
        store: IngestStore, limits: IngestLimits = IngestLimits(), audiences: AudienceRegistry? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.limits = limits
        self.audiences = audiences
        self.clock = clock
    }

    private var validator: IngestValidator { IngestValidator(limits: limits, now: clock()) }

    public func ingestEvents(_ events: [EventInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try validator.events(events)
        let (result, committed) = try await store.ingestEvents(events, tenant: tenant, audit: audit)
        if let committed, let audiences { await audiences.committed(committed) }
        return result
    }

    public func upsertProfiles(
        _ profiles: [ProfileInput], mode: ProfileUpsertMode, removing: [String], tenant: TenantID, audit: AuditContext
    ) async throws -> IngestResult {
        if mode == .replace && !removing.isEmpty {
            throw DomainError.invalid("remove_attributes", "only with mode MERGE (REPLACE removes what is not sent)")
        }
        try validator.profiles(profiles, removing: removing)
        return try await store.upsertProfiles(profiles, mode: mode, removing: removing, tenant: tenant, audit: audit)
    }

    public func recordResponses(_ responses: [ResponseInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try validator.responses(responses)
        return try await store.recordResponses(responses, tenant: tenant, audit: audit)
    }

    public func recordLocations(_ locations: [LocationInput], tenant: TenantID, audit: AuditContext) async throws -> IngestResult {
        try validator.locations(locations)
        return try await store.recordLocations(locations, tenant: tenant, audit: audit)
    }
}
