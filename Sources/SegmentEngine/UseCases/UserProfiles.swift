import Foundation
import SegmentDomain
import SegmentStore

/// One user's data as Segmentd holds it, and erasing it.
public struct UserProfiles: Sendable {
    let store: UserStore

    public init(store: UserStore) {
        self.store = store
    }

    public func get(tenant: TenantID, userID: String, recentEvents: Int) async throws -> UserRecord {
        try await store.get(tenant: tenant, userID: userID, recentEvents: recentEvents)
    }

    /// Erases the user's data everywhere; what was removed, by kind.
    public func delete(tenant: TenantID, userID: String, audit: AuditContext) async throws -> [String: Int64] {
        try await store.delete(tenant: tenant, userID: userID, audit: audit)
    }
}
