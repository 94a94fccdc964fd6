import Foundation

/// A tag as stored.
public struct TagRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let tagID: String
    public let displayName: String
    public let description: String
    public let userCount: Int64
    public let createdAt: Date
    public let etag: Int64

    /// `tenants/{tenant}/tags/{tag}`.
    public var name: String { "tenants/\(tenantID)/tags/\(tagID)" }

    package var auditFields: AuditFields {
        ["tag_id": .string(tagID), "display_name": .string(displayName), "description": .string(description)]
    }

    package init(tenantID: TenantID, tagID: String, displayName: String, description: String, userCount: Int64, createdAt: Date, etag: Int64) {
        self.tenantID = tenantID
        self.tagID = tagID
        self.displayName = displayName
        self.description = description
        self.userCount = userCount
        self.createdAt = createdAt
        self.etag = etag
    }
}
