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

    var auditFields: AuditFields {
        ["display_name": .string(displayName), "state": .string(state), "time_zone": .string(timeZone)]
    }
}
