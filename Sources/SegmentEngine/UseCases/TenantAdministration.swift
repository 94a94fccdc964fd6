import Foundation
import SegmentDomain
import SegmentStore

/// Platform operators' use cases: tenants, their settings and state.
public struct TenantAdministration: Sendable {
    let store: TenantStore

    public init(store: TenantStore) {
        self.store = store
    }

    /// Creates a tenant with its owner key, shown once.
    public func create(id: TenantID, displayName: String, timeZone: String, audit: AuditContext) async throws -> (TenantRecord, IssuedKey) {
        let (tenant, key, secret) = try await store.create(id: id, displayName: displayName, timeZone: timeZone, audit: audit)
        return (tenant, IssuedKey(record: key, plaintext: secret.plaintext))
    }

    /// A tenant, as `context` (the platform, or the tenant itself) may see it.
    public func get(_ id: TenantID, context: TenantID) async throws -> TenantRecord {
        try await store.get(id, context: context)
    }

    public func list(showDisabled: Bool, pageSize: Int, pageToken: String?) async throws -> ([TenantRecord], String?) {
        try await store.list(showDisabled: showDisabled, pageSize: pageSize, pageToken: pageToken)
    }

    public func update(
        _ id: TenantID, displayName: String?, timeZone: String?, etag: Int64?, audit: AuditContext
    ) async throws -> TenantRecord {
        try await store.update(id, displayName: displayName, timeZone: timeZone, etag: etag, audit: audit)
    }

    public func setState(_ id: TenantID, active: Bool, etag: Int64?, audit: AuditContext) async throws -> TenantRecord {
        try await store.setState(id, active: active, etag: etag, audit: audit)
    }
}
