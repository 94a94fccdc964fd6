import SegmentDomain

extension Migration {
    /// Every membership write numbers itself (`segments.member_version`) and its
    /// changes keep that number, for a while, instead of replacing the last
    /// write's: a reader that noted version V pages through the membership as of
    /// V in short transactions of its own (current members, undone by the
    /// changes numbered after V), so no connection is held for a whole stream.
    /// `member_changes_from` is F when the changes of every version after F are
    /// all kept; older ones are deleted by the next write after their retention.
    static let memberVersions = Migration(
        version: 11, name: "member_versions",
        sql: #"""
            ALTER TABLE segments ADD COLUMN member_version bigint NOT NULL DEFAULT 0,
                                 ADD COLUMN member_changes_from bigint NOT NULL DEFAULT 0;
            ALTER TABLE segment_changes ADD COLUMN version bigint NOT NULL DEFAULT 0,
                                        ADD COLUMN written_at timestamptz NOT NULL DEFAULT now();
            ALTER TABLE segment_changes DROP CONSTRAINT segment_changes_pkey;
            ALTER TABLE segment_changes ADD PRIMARY KEY (tenant_id, segment_id, user_index, version);
            CREATE INDEX segment_changes_by_version ON segment_changes (tenant_id, segment_id, version);
            """#)
}
