/// The segmentd release.
public enum SegmentdVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
