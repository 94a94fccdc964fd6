/// The kinds of background job. Each has one handler in the engine and one
/// result type (``JobResult``); docs/jobs.md describes them.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    /// Recompute a rule-based segment's membership (or re-match a connector's ids).
    case refresh
    /// Write a segment's members to a file.
    case export
    /// Pull a PULL connector's source.
    case sync
    /// Train a predictive segment's model and score every user.
    case train

    /// The job that refreshes a segment of `kind`: a rule's refresh, a pull, or training and scoring.
    /// (A refresh of a pushed or uploaded connector re-matches its ids with the users known now.)
    public static func refreshing(_ kind: SegmentKind, _ definition: SegmentDefinition) -> JobKind {
        switch kind {
        case .ruleBased: .refresh
        case .connector: definition.connector?.source == .pull ? .sync : .refresh
        case .predictive: .train
        }
    }
}
