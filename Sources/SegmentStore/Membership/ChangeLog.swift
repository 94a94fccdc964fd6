import SegmentDomain

/// Appends membership changes to the change log (migration 17) in the statement
/// that makes them, so a change and its log row commit together or not at all.
///
/// Positions come from the tenant's counter row, bumped in the same statement:
/// its row lock, held to commit, orders a tenant's writers, so positions become
/// visible in increasing order with no gaps (what a consumer resuming from its
/// last position relies on). An empty difference takes no position and no lock.
enum ChangeLog {
    /// CTEs to append to a `WITH` list after `diff`, a CTE with the columns
    /// `segment_id`, `user_index`, `entered` and `version`; the last, `logged`,
    /// returns a row per change appended.
    /// - Parameters:
    ///   - tenant: The SQL of the tenant id (a parameter, e.g. `$1`).
    ///   - effectiveAt: The SQL of the instant the changes took effect (a `timestamptz`).
    ///   - jobID: The SQL of the operation's job id (a `bigint`; 0 for none).
    static func appending(diff: String, tenant: String, effectiveAt: String, cause: MembershipChangeCause, jobID: String) -> String {
        """
        change_positions AS (
            INSERT INTO membership_change_positions AS p (tenant_id, last_position)
            SELECT \(tenant), count(*) FROM \(diff) HAVING count(*) > 0
            ON CONFLICT (tenant_id) DO UPDATE SET last_position = p.last_position + EXCLUDED.last_position
            RETURNING p.last_position AS last
        ),
        logged AS (
            INSERT INTO membership_changes (tenant_id, position, segment_id, user_index, entered, effective_at, cause, job_id, version)
            SELECT \(tenant), c.last - count(*) OVER () + row_number() OVER (), d.segment_id, d.user_index, d.entered,
                   \(effectiveAt), '\(cause.rawValue)', nullif(\(jobID), 0), d.version
            FROM \(diff) d CROSS JOIN change_positions c
            RETURNING 1
        )
        """
    }
}
