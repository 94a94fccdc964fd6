import SegmentRules

/// What ``AudienceSource`` hands a tenant's data to, batch by batch.
///
/// Batches come in this order: users; events, one type after another (all of a
/// type's batches together); profiles; tags, one tag after another; campaign
/// responses, one campaign and kind after another. Every batch comes from one
/// database snapshot, so the whole is one consistent cut of the tenant.
public protocol AudienceSink {
    mutating func receive(_ users: AudienceRows.Users) throws
    mutating func receive(_ events: AudienceRows.Events) throws
    mutating func receive(_ profiles: AudienceRows.Profiles) throws
    mutating func receive(_ tags: AudienceRows.Tags) throws
    mutating func receive(_ responses: AudienceRows.Responses) throws
    /// Every event has been handed over (events read in storage order can be put in time order now,
    /// before the rest loads, so the sort's scratch space never adds to a full state).
    mutating func finishedEvents() throws
}

extension AudienceSink {
    public mutating func finishedEvents() throws {}
}
