/// The definition fields an update may change (the update mask's paths).
public enum SegmentField: String, Sendable, CaseIterable {
    case displayName = "display_name"
    case description
    case rule
    case schedule
    case connector
    case predictive
}
