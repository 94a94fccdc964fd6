import Foundation
import SegmentDomain
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

extension Segmentd_V1_Tenant {
    init(_ record: TenantRecord) {
        self.init()
        name = record.name
        displayName = record.displayName
        state = record.state == "active" ? .active : .disabled
        timeZone = record.timeZone
        createTime = .init(date: record.createdAt)
        updateTime = .init(date: record.updatedAt)
        etag = String(record.etag)
    }
}

extension Segmentd_V1_ApiKey {
    init(_ record: APIKeyRecord) {
        self.init()
        name = record.name
        displayName = record.displayName
        displayPrefix = record.displayPrefix
        roles = record.roles
        createTime = .init(date: record.createdAt)
        if let expires = record.expiresAt { expireTime = .init(date: expires) }
        if let lastUsed = record.lastUsedAt { lastUsedTime = .init(date: lastUsed) }
        if let revoked = record.revokedAt { revokeTime = .init(date: revoked) }
        creator = record.createdBy
        replacedBy = record.replacedBy ?? ""
        etag = String(record.etag)
    }
}

extension Segmentd_V1_Role {
    init(_ record: RoleRecord) {
        self.init()
        name = record.name
        displayName = record.displayName
        description_p = record.description
        permissions = record.permissions
        builtIn = record.builtIn
        etag = String(record.etag)
    }
}

extension Segmentd_V1_AuditEvent {
    init(_ record: AuditEventRecord) {
        self.init()
        name = "tenants/\(record.tenantID)/auditEvents/\(record.sequence)"
        sequence = record.sequence
        time = .init(date: record.time)
        actor = .with {
            $0.name = record.actor.name
            $0.display = record.actor.display
        }
        action = record.action
        resource = record.resource
        result = record.result
        requestID = record.actor.requestID
        peer = record.actor.peer
        userAgent = record.actor.userAgent
        if let before = record.before, let parsed = try? Google_Protobuf_Struct(jsonString: before) { self.before = parsed }
        if let after = record.after, let parsed = try? Google_Protobuf_Struct(jsonString: after) { self.after = parsed }
        hash = record.hash
        previousHash = record.previousHash
        actorKeyDisplayName = record.actorKeyDisplayName ?? ""
    }
}

extension Segmentd_V1_Value {
    /// A stored attribute or property value.
    init(_ value: RuleValue) {
        self.init()
        switch value {
        case .string(let text): stringValue = text
        case .number(let number): numberValue = number
        case .bool(let flag): boolValue = flag
        case .time(let date): timestampValue = .init(date: date)
        case .list(let items): stringListValue = .with { $0.values = items }
        }
    }
}
