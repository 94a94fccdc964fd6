import SegmentDomain

extension Migration {
    /// Freshness: `refreshed_revision` is the revision the current membership was
    /// computed from (NULL: never refreshed), written with the membership;
    /// `definition_revision` is the last revision that changed what membership is
    /// computed from (the rule, connector or predictive settings). The segment is
    /// stale while the first is older than the second.
    ///
    /// Existing segments are backfilled from their revisions and size history (the
    /// newest revision at or before the last successful refresh). The owner is held
    /// by the forced row-level security like every role, so it is lifted for the
    /// backfill and forced again in the same transaction.
    static let segmentFreshness = Migration(
        version: 13, name: "segment_freshness",
        sql: #"""
            ALTER TABLE segments ADD COLUMN refreshed_revision bigint,
                                 ADD COLUMN definition_revision bigint NOT NULL DEFAULT 1;
            ALTER TABLE segments NO FORCE ROW LEVEL SECURITY;
            ALTER TABLE segment_revisions NO FORCE ROW LEVEL SECURITY;
            ALTER TABLE segment_size_history NO FORCE ROW LEVEL SECURITY;
            UPDATE segments s SET
                definition_revision = coalesce((
                    SELECT max(r.revision) FROM segment_revisions r
                    WHERE r.tenant_id = s.tenant_id AND r.segment_id = s.segment_id
                      AND r.changed_fields && ARRAY['rule', 'connector', 'predictive']), 1),
                refreshed_revision = (
                    SELECT max(r.revision) FROM segment_revisions r
                    WHERE r.tenant_id = s.tenant_id AND r.segment_id = s.segment_id
                      AND r.created_at <= (SELECT max(h.time) FROM segment_size_history h
                                           WHERE h.tenant_id = s.tenant_id AND h.segment_id = s.segment_id));
            ALTER TABLE segments FORCE ROW LEVEL SECURITY;
            ALTER TABLE segment_revisions FORCE ROW LEVEL SECURITY;
            ALTER TABLE segment_size_history FORCE ROW LEVEL SECURITY;
            """#)
}
