import Crypto
import Foundation
import SegmentDomain

/// One numbered schema change, applied once, in order, in one transaction.
public struct Migration: Sendable {
    /// The version; migrations run in ascending order.
    public let version: Int
    /// A short name, for logs and `schema_migrations`.
    public let name: String
    /// The SQL. `{{app_role}}` stands for the server's (quoted) role name.
    let sql: String

    /// The SHA-256 of the SQL, recorded so an edited, already-applied migration is caught.
    var checksum: String {
        SHA256.hash(data: Array(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The statements with the server role filled in.
    func statements(appRole: String) -> [String] {
        let quoted = "\"" + appRole.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        return SQLScript.statements(sql.replacingOccurrences(of: "{{app_role}}", with: quoted))
    }
}

/// Every migration, in order. Append new ones; never edit an applied one.
public enum Migrations {
    public static let all: [Migration] = [
        .foundation,
        .accessAndAudit,
        .userData,
        .segmentMembers,
        .segments,
        .segmentChanges,
        .connectorsAndModels,
        .ruleForms,
        .auditChainEncoding,
        .fairJobs,
        .memberVersions,
        .jobUpdateNotifications,
        .segmentFreshness,
        .audienceChanges,
        .audienceChangeUsers,
        .membershipWriteKeys,
        .membershipChangeLog,
        .realtimeSegments,
        .memberUserKey,
    ]
}
