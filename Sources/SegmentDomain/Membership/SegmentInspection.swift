import Foundation
import SegmentRules

/// What inspect shows about a segment's current membership.
public struct SegmentInspection: Sendable {
    public var count: Int64 = 0
    public var sample: [String] = []
    public var breakdown: [BreakdownRow] = []
    public var overlap: (both: Int64, onlyThis: Int64, onlyOther: Int64)?
    public var enteredSample: [String] = []
    public var exitedSample: [String] = []

    package init(overlap: (both: Int64, onlyThis: Int64, onlyOther: Int64)? = nil) {
        self.overlap = overlap
    }
}
