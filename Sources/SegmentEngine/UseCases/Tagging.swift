import Foundation
import SegmentDomain
import SegmentStore

/// Static labels on users: the tag catalog and who carries each tag.
public struct Tagging: Sendable {
    let store: TagStore

    public init(store: TagStore) {
        self.store = store
    }

    public func create(tenant: TenantID, tagID: String, displayName: String, description: String, audit: AuditContext) async throws -> TagRecord {
        try await store.create(tenant: tenant, tagID: tagID, displayName: displayName, description: description, audit: audit)
    }

    public func get(tenant: TenantID, tagID: String) async throws -> TagRecord {
        try await store.get(tenant: tenant, tagID: tagID)
    }

    public func list(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([TagRecord], String?) {
        try await store.list(tenant: tenant, pageSize: pageSize, pageToken: pageToken)
    }

    public func update(
        tenant: TenantID, tagID: String, displayName: String?, description: String?, etag: Int64?, audit: AuditContext
    ) async throws -> TagRecord {
        try await store.update(tenant: tenant, tagID: tagID, displayName: displayName, description: description, etag: etag, audit: audit)
    }

    public func rename(tenant: TenantID, tagID: String, newTagID: String, audit: AuditContext) async throws -> TagRecord {
        try await store.rename(tenant: tenant, tagID: tagID, newTagID: newTagID, audit: audit)
    }

    public func delete(tenant: TenantID, tagID: String, etag: Int64?, audit: AuditContext) async throws {
        try await store.delete(tenant: tenant, tagID: tagID, etag: etag, audit: audit)
    }

    /// Assigns (or removes) every tag to every user; counts what changed.
    public func assign(
        tenant: TenantID, tagIDs: [String], userIDs: [String], remove: Bool, audit: AuditContext
    ) async throws -> (changed: Int, unchanged: Int) {
        try await store.assign(tenant: tenant, tagIDs: tagIDs, userIDs: userIDs, remove: remove, audit: audit)
    }

    public func users(tenant: TenantID, tagID: String, pageSize: Int, pageToken: String?) async throws -> ([String], String?) {
        try await store.users(tenant: tenant, tagID: tagID, pageSize: pageSize, pageToken: pageToken)
    }
}
