import Foundation
import SegmentDomain
import SegmentStore

/// What the tenant's data is known to contain: event types with their properties, attributes, campaigns.
public struct Catalog: Sendable {
    let store: CatalogStore

    public init(store: CatalogStore) {
        self.store = store
    }

    public func eventTypes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogEventType], String?) {
        try await store.eventTypes(tenant: tenant, pageSize: pageSize, pageToken: pageToken)
    }

    public func attributes(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogAttribute], String?) {
        try await store.attributes(tenant: tenant, pageSize: pageSize, pageToken: pageToken)
    }

    public func campaigns(tenant: TenantID, pageSize: Int, pageToken: String?) async throws -> ([CatalogCampaign], String?) {
        try await store.campaigns(tenant: tenant, pageSize: pageSize, pageToken: pageToken)
    }
}
