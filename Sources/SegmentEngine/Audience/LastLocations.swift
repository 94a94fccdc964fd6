import SegmentStore

/// Each user's last known location, by user index: what `within`, `location
/// seen` and the `seen` window of `in city`/`in country` test.
public struct LastLocations: Sendable {
    /// Users with a known location.
    public private(set) var known = MemberBitmap()
    /// Degrees, by user index (0 where unknown).
    public private(set) var latitudes: [Double] = []
    public private(set) var longitudes: [Double] = []
    /// When the location was seen, microseconds since 1970 (0 where unknown).
    public private(set) var times: [Int64] = []

    public init() {}

    /// The location of `user`, nil when unknown.
    public subscript(user: UInt32) -> AudienceRows.LastLocationRow? {
        guard known.contains(user) else { return nil }
        let row = Int(user)
        return AudienceRows.LastLocationRow(latitude: latitudes[row], longitude: longitudes[row], time: times[row])
    }

    /// Sets `user`'s location (users in increasing order while loading; any order after).
    mutating func set(_ location: AudienceRows.LastLocationRow?, for user: UInt32) {
        let row = Int(user)
        if latitudes.count <= row {
            let missing = row + 1 - latitudes.count
            latitudes.append(contentsOf: repeatElement(0, count: missing))
            longitudes.append(contentsOf: repeatElement(0, count: missing))
            times.append(contentsOf: repeatElement(0, count: missing))
        }
        guard let location else {
            known.remove(user)
            return
        }
        latitudes[row] = location.latitude
        longitudes[row] = location.longitude
        times[row] = location.time
        known.insert(user)
    }

    /// Pads the arrays to `users` rows (unknown) and lets go of spare capacity, so
    /// every array has a row per user index like the attribute columns.
    mutating func finish(users: Int) {
        if latitudes.count < users {
            let missing = users - latitudes.count
            latitudes.append(contentsOf: repeatElement(0, count: missing))
            longitudes.append(contentsOf: repeatElement(0, count: missing))
            times.append(contentsOf: repeatElement(0, count: missing))
        }
        latitudes = latitudes.trimmed()
        longitudes = longitudes.trimmed()
        times = times.trimmed()
        known.trim()
    }

    public var bytesHeld: Int {
        known.bytesHeld + MemoryEstimate.bytes(of: latitudes) + MemoryEstimate.bytes(of: longitudes) + MemoryEstimate.bytes(of: times)
    }
}
