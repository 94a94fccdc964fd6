import Foundation

/// Where a connector segment's members come from.
public struct ConnectorSettings: Sendable, Equatable, Codable {
    public enum Source: String, Sendable, Codable, CaseIterable {
        /// Pushed by the sync API.
        case push
        /// Uploaded files.
        case file
        /// Fetched from a URL on the segment's schedule.
        case pull
    }

    public var source: Source
    /// For `pull`: the file to fetch.
    public var pull: PullSettings?

    public init(source: Source, pull: PullSettings? = nil) {
        self.source = source
        self.pull = pull
    }

    /// Checks the source and, for pulls, the URL and limits; messages start with the field.
    public func validated() throws -> ConnectorSettings {
        switch source {
        case .pull:
            guard let pull else { throw DomainError.invalid("segment.connector.pull", "a PULL connector needs a URL") }
            return ConnectorSettings(source: .pull, pull: try pull.validated())
        case .push, .file:
            guard pull == nil else { throw DomainError.invalid("segment.connector.pull", "only a PULL connector has a URL") }
            return self
        }
    }
}

/// A CSV or NDJSON file of user ids fetched over HTTP(S). The optional
/// `Authorization` header is not here: it is stored apart and never read back.
public struct PullSettings: Sendable, Equatable, Codable {
    public var url: String
    /// `csv` or `ndjson`.
    public var format: String
    public var timeoutSeconds: Double
    public var maxBytes: Int64

    public static let defaultTimeoutSeconds: Double = 60
    public static let defaultMaxBytes: Int64 = 100 * 1024 * 1024
    public static let largestMaxBytes: Int64 = 1024 * 1024 * 1024

    public init(url: String, format: String, timeoutSeconds: Double = defaultTimeoutSeconds, maxBytes: Int64 = defaultMaxBytes) {
        self.url = url
        self.format = format
        self.timeoutSeconds = timeoutSeconds
        self.maxBytes = maxBytes
    }

    enum CodingKeys: String, CodingKey {
        case url, format
        case timeoutSeconds = "timeout_seconds"
        case maxBytes = "max_bytes"
    }

    /// The URL's origin — scheme, host and port (80 and 443 by default) — which a stored
    /// `Authorization` header is bound to: moving the URL to another origin drops it.
    public var origin: String {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased() else { return url }
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(parsed.host?.lowercased() ?? ""):\(port)"
    }

    /// The URL as readers see it (responses, the audit log, error messages): query values
    /// and the fragment may carry tokens, so each value shows as `redacted` and the fragment is dropped.
    /// A client that sends this form back unchanged keeps the real URL.
    public var redactedURL: String {
        guard var components = URLComponents(string: url) else { return "the source URL" }
        if let items = components.queryItems, !items.isEmpty {
            components.queryItems = items.map { URLQueryItem(name: $0.name, value: $0.value == nil ? nil : "redacted") }
        }
        components.fragment = nil
        components.user = nil
        components.password = nil
        return components.string ?? "the source URL"
    }

    public func validated() throws -> PullSettings {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = parsed.host, !host.isEmpty, url.utf8.count <= 2048
        else {
            throw DomainError.invalid(
                "segment.connector.pull.url", "an http:// or https:// URL with a host (at most 2048 bytes), got '\(url.prefix(100))'")
        }
        guard parsed.user == nil && parsed.password == nil else {
            throw DomainError.invalid("segment.connector.pull.url", "no credentials in the URL; set auth_header instead (it is never returned)")
        }
        let format = format.isEmpty ? "csv" : format.lowercased()
        guard format == "csv" || format == "ndjson" else { throw DomainError.invalid("segment.connector.pull.format", "csv or ndjson") }
        guard (1...600).contains(timeoutSeconds) else { throw DomainError.invalid("segment.connector.pull.timeout", "1 s to 10 min") }
        guard (1...Self.largestMaxBytes).contains(maxBytes) else {
            throw DomainError.invalid("segment.connector.pull.max_bytes", "1 byte to 1 GiB")
        }
        return PullSettings(url: url, format: format, timeoutSeconds: timeoutSeconds, maxBytes: maxBytes)
    }
}

/// What a predictive segment predicts, and which score bucket its members are.
public struct PredictiveSettings: Sendable, Equatable, Codable {
    public enum Goal: String, Sendable, Codable, CaseIterable {
        /// Likely to perform the event within the horizon.
        case convert
        /// Likely to stop performing the event within the horizon.
        case churn
    }

    public enum Bucket: String, Sendable, Codable, CaseIterable {
        case high, medium, low
    }

    public var goal: Goal
    public var event: String
    public var horizonDays: Int
    public var bucket: Bucket

    public static let defaultChurnEvent = "app_open"
    public static let defaultHorizonDays = 14

    public init(goal: Goal, event: String, horizonDays: Int = defaultHorizonDays, bucket: Bucket = .high) {
        self.goal = goal
        self.event = event
        self.horizonDays = horizonDays
        self.bucket = bucket
    }

    enum CodingKeys: String, CodingKey {
        case goal, event
        case horizonDays = "horizon_days"
        case bucket
    }

    public func validated() throws -> PredictiveSettings {
        var settings = self
        if settings.event.isEmpty {
            guard goal == .churn else { throw DomainError.invalid("segment.predictive.event", "the event to convert on, such as purchase") }
            settings.event = Self.defaultChurnEvent
        }
        guard IngestLimits.isValidName(settings.event) else {
            throw DomainError.invalid("segment.predictive.event", "'\(settings.event.prefix(100))' is not an event name")
        }
        guard (1...90).contains(settings.horizonDays) else { throw DomainError.invalid("segment.predictive.horizon_days", "1-90") }
        return settings
    }
}

extension Encodable {
    /// Sorted-key JSON (stable for revisions and audit entries).
    package var sortedJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}
