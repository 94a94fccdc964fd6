/// The definition fields an update may change (the update mask's paths).
public enum SegmentField: String, Sendable, CaseIterable {
    case displayName = "display_name"
    case description
    case rule
    case schedule
    case realTime = "real_time"
    case connector
    case predictive
}
