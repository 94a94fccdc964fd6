import Foundation
import Logging
import PostgresNIO
import SegmentDomain

/// Reading a whole membership in pages, each in a short transaction of its own,
/// so a slow (or stalled) reader holds no pooled connection between them — and
/// still sees one moment: every page shows the membership as of one write, even
/// when later writes commit between pages.
///
/// A write bumps `segments.member_version` and logs its changes (who entered,
/// who exited) under that number in the change log, kept for its retention. A
/// user's membership at version V is its membership now unless it changed after
/// V; then it is the opposite of the first such change (an "entered" means it
/// was out at V, an "exited" that it was in).
extension MembershipStore {
    /// The segment's membership as it is now: its version, size and time; NOT_FOUND for a deleted segment.
    public func memberSnapshot(tenant: TenantID, segmentID: String) async throws -> MemberSnapshot {
        try await database.withTenant(tenant) { connection in
            for try await (version, total, time) in try await connection.query(
                """
                SELECT s.member_version, (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.segment_id)::int8, now()
                FROM segments s WHERE s.segment_id = \(segmentID) AND s.deleted_at IS NULL
                """, logger: database.logger
            ).decode((Int64, Int64, Date).self) {
                return MemberSnapshot(segmentID: segmentID, version: version, total: total, time: time)
            }
            throw DomainError(.notFound, "tenants/\(tenant)/segments/\(segmentID) not found")
        }
    }

    /// Up to `limit` members of `snapshot` after `cursor`, in user-index order, read in one
    /// short transaction. ABORTED when the changes made since the snapshot are no longer
    /// all kept (the stream outlived their retention); NOT_FOUND once the segment is deleted.
    public func members(of snapshot: MemberSnapshot, tenant: TenantID, after cursor: MemberPage.Cursor, limit: Int) async throws -> MemberPage {
        let segmentID = snapshot.segmentID
        let after = cursor.afterIndex
        return try await database.withTenantSnapshot(tenant) { connection in
            let logger = database.logger
            var keptFrom: Int64?
            for try await kept in try await connection.query(
                "SELECT member_changes_from FROM segments WHERE segment_id = \(segmentID) AND deleted_at IS NULL", logger: logger
            ).decode(Int64.self) { keptFrom = kept }
            guard let keptFrom else { throw DomainError(.notFound, "tenants/\(tenant)/segments/\(segmentID) not found") }
            guard snapshot.version >= keptFrom else {
                throw DomainError(
                    .conflict,
                    "the membership this stream began with is no longer kept (the segment changed and the change log no longer "
                        + "holds that version's changes); start it again")
            }
            // The page covers user indexes up to the limit-th current member after the cursor
            // (all the rest when fewer are left); members that left since are added back within it.
            var upper = Int64.max
            for try await (top, count) in try await connection.query(
                """
                SELECT max(user_index), count(*)::int8 FROM (
                    SELECT user_index FROM segment_members WHERE segment_id = \(segmentID) AND user_index > \(after)
                    ORDER BY user_index LIMIT \(Int64(limit))
                ) page
                """, logger: logger
            ).decode((Int64?, Int64).self) {
                if count == Int64(limit), let top { upper = top }
            }
            var ids: [String] = []
            ids.reserveCapacity(limit)
            var last = after
            for try await (index, id) in try await connection.query(
                """
                WITH first_change AS (
                    SELECT DISTINCT ON (c.user_index) c.tenant_id, c.user_index, c.entered FROM membership_changes c
                    WHERE c.segment_id = \(segmentID) AND c.version > \(snapshot.version)
                      AND c.user_index > \(after) AND c.user_index <= \(upper)
                    ORDER BY c.user_index, c.version
                ),
                then_members AS (
                    SELECT m.tenant_id, m.user_index FROM segment_members m
                    WHERE m.segment_id = \(segmentID) AND m.user_index > \(after) AND m.user_index <= \(upper)
                      AND NOT EXISTS (SELECT 1 FROM first_change f WHERE f.user_index = m.user_index)
                    UNION ALL
                    SELECT f.tenant_id, f.user_index FROM first_change f WHERE NOT f.entered
                )
                SELECT p.user_index, u.external_id FROM then_members p
                JOIN users u ON u.tenant_id = p.tenant_id AND u.user_index = p.user_index
                ORDER BY p.user_index LIMIT \(Int64(limit))
                """, logger: logger
            ).decode((Int64, String).self) {
                ids.append(id)
                last = index
            }
            // A full page may have stopped inside the range; a short one covered all of it.
            let next: MemberPage.Cursor?
            if ids.count == limit {
                next = MemberPage.Cursor(afterIndex: last)
            } else if upper < .max {
                next = MemberPage.Cursor(afterIndex: upper)
            } else {
                next = nil
            }
            return MemberPage(ids: ids, next: next)
        }
    }
}
