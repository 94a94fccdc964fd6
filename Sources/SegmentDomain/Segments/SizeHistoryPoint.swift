import Foundation

/// A segment's size after one refresh, and who entered and left.
public struct SizeHistoryPoint: Sendable, Equatable {
    public var time: Date
    public var size: Int64
    public var entered: Int64
    public var exited: Int64
    public var durationMilliseconds: Int64

    public init(time: Date, size: Int64, entered: Int64, exited: Int64, durationMilliseconds: Int64) {
        self.time = time
        self.size = size
        self.entered = entered
        self.exited = exited
        self.durationMilliseconds = durationMilliseconds
    }
}
