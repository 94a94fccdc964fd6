/// What a job was asked to do beyond its kind and target. Stored as a JSON
/// object in `jobs.args`; rows written before the arguments were typed held
/// every value as a string, and are read too.
public struct JobArguments: Sendable, Equatable, Codable {
    /// Enqueued by the segment's schedule: when it finishes, the next scheduled time moves on.
    public var scheduled: Bool
    /// Why it was enqueued, for people (`dependency buyers_30d`).
    public var reason: String?
    /// Exports: `csv` or `ndjson`.
    public var format: String?
    /// Exports: the profile attributes written beside each user id.
    public var attributes: [String]
    /// Refreshes queued together (a schedule tick, a batch refresh, a segment's
    /// dependents): the instant their rules are evaluated at, in microseconds since
    /// 1970 (exact, so every job of the batch has the same instant and a condition
    /// they share is evaluated once).
    public var evaluateAt: Int64?

    public init(
        scheduled: Bool = false, reason: String? = nil, format: String? = nil, attributes: [String] = [], evaluateAt: Int64? = nil
    ) {
        self.scheduled = scheduled
        self.reason = reason
        self.format = format
        self.attributes = attributes
        self.evaluateAt = evaluateAt
    }

    enum CodingKeys: String, CodingKey {
        case scheduled, reason, format, attributes
        case evaluateAt = "evaluate_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let flag = try? container.decodeIfPresent(Bool.self, forKey: .scheduled) {
            scheduled = flag
        } else {
            scheduled = (try? container.decodeIfPresent(String.self, forKey: .scheduled)) == "true"
        }
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        format = try container.decodeIfPresent(String.self, forKey: .format)
        if let list = try? container.decodeIfPresent([String].self, forKey: .attributes) {
            attributes = list
        } else {
            let joined = (try? container.decodeIfPresent(String.self, forKey: .attributes)) ?? ""
            attributes = joined.split(separator: ",").map(String.init)
        }
        evaluateAt = try container.decodeIfPresent(Int64.self, forKey: .evaluateAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if scheduled { try container.encode(true, forKey: .scheduled) }
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeIfPresent(format, forKey: .format)
        if !attributes.isEmpty { try container.encode(attributes, forKey: .attributes) }
        try container.encodeIfPresent(evaluateAt, forKey: .evaluateAt)
    }
}
