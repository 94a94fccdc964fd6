import SegmentDomain

extension Migration {
    /// A rule-based segment keeps its rule's AST and restatement beside the
    /// canonical text, written when the rule is saved, so reading a segment never
    /// parses its rule again. Rows saved before are filled in at startup.
    static let ruleForms = Migration(
        version: 8, name: "rule_forms",
        sql: #"""
            ALTER TABLE segments ADD COLUMN rule_ast jsonb, ADD COLUMN rule_description text;
            """#)
}
