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

    public init(scheduled: Bool = false, reason: String? = nil, format: String? = nil, attributes: [String] = []) {
        self.scheduled = scheduled
        self.reason = reason
        self.format = format
        self.attributes = attributes
    }

    enum CodingKeys: String, CodingKey { case scheduled, reason, format, attributes }

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
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if scheduled { try container.encode(true, forKey: .scheduled) }
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeIfPresent(format, forKey: .format)
        if !attributes.isEmpty { try container.encode(attributes, forKey: .attributes) }
    }
}
