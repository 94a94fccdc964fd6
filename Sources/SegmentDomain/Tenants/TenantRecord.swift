import Foundation

/// A tenant as stored.
public struct TenantRecord: Sendable, Equatable {
    public let id: TenantID
    public let displayName: String
    /// `active` or `disabled`.
    public let state: String
    public let timeZone: String
    public let isPlatform: Bool
    public let createdAt: Date
    public let updatedAt: Date
    public let etag: Int64

    /// `tenants/{id}`.
    public var name: String { "tenants/\(id)" }

    package var auditFields: AuditFields {
        ["display_name": .string(displayName), "state": .string(state), "time_zone": .string(timeZone)]
    }

    package init(id: TenantID, displayName: String, state: String, timeZone: String, isPlatform: Bool, createdAt: Date, updatedAt: Date, etag: Int64)
    {
        self.id = id
        self.displayName = displayName
        self.state = state
        self.timeZone = timeZone
        self.isPlatform = isPlatform
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.etag = etag
    }
}
