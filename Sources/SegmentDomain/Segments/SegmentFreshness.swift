/// Whether a segment's members still follow its definition, so a marketer can
/// tell members computed from an old rule (after an update or a rollback) from
/// current ones.
///
/// "Definition" means what membership is computed from: the rule, the connector's
/// settings, the predictive settings. A new display name, description or schedule
/// makes a revision but leaves the members fresh. For connector segments the
/// membership comes from the last sync (a push, an upload, a pull or a re-match),
/// for predictive segments from the last scoring.
public enum SegmentFreshness: Sendable, Equatable {
    /// No refresh (sync, scoring) has written members yet.
    case neverRefreshed
    /// The members were computed from revision `revision`, and no later revision
    /// changed the definition.
    case fresh(revision: Int64)
    /// The members were computed from revision `refreshed`; revision `changedBy`
    /// changed the definition since.
    case stale(refreshed: Int64, changedBy: Int64)

    /// From the revision the members were computed from (nil: never) and the last
    /// revision that changed the definition.
    public init(refreshedRevision: Int64?, definitionRevision: Int64) {
        guard let refreshedRevision else {
            self = .neverRefreshed
            return
        }
        self =
            refreshedRevision < definitionRevision
            ? .stale(refreshed: refreshedRevision, changedBy: definitionRevision) : .fresh(revision: refreshedRevision)
    }
}

extension SegmentDefinition {
    /// The fields whose change alters membership (AIP field names, as `changedFields` returns them).
    package static let membershipFields: Set<String> = ["rule", "connector", "predictive"]
}
