import Foundation

/// What a finished job produced, one type per ``JobKind``. Stored as a JSON
/// object in `jobs.result` with snake_case keys (operators and benchmarks read
/// `select_ms`, `evaluated_at` and `worker` with `result ->> …`).
public enum JobResult: Sendable, Equatable {
    case refresh(RefreshResult)
    case export(ExportResult)
    case sync(SyncResult)
    case train(TrainResult)

    /// The JSON object stored for this result.
    public var jsonText: String {
        switch self {
        case .refresh(let result): Self.encode(result)
        case .export(let result): Self.encode(result)
        case .sync(let result): Self.encode(result)
        case .train(let result): Self.encode(result)
        }
    }

    /// Decodes a stored result of `kind`. Rows written before results were typed
    /// hold every value as a string; those are read too.
    public static func decode(kind: JobKind, json: String) -> JobResult? {
        if let result = decodeTyped(kind: kind, data: Data(json.utf8)) { return result }
        guard let legacy = try? JSONDecoder().decode([String: String].self, from: Data(json.utf8)) else { return nil }
        var object: [String: Any] = [:]
        for (key, value) in legacy {
            if key == "unmatched_sample" {
                object[key] = value.split(separator: ",").map(String.init)
            } else if value == "true" || value == "false" {
                object[key] = value == "true"
            } else if let number = Double(value), !["sha256", "model", "algorithm", "export", "file", "format"].contains(key) {
                object[key] = number
            } else {
                object[key] = value
            }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
        return decodeTyped(kind: kind, data: data)
    }

    private static func decodeTyped(kind: JobKind, data: Data) -> JobResult? {
        let decoder = JSONDecoder()
        switch kind {
        case .refresh: return (try? decoder.decode(RefreshResult.self, from: data)).map(JobResult.refresh)
        case .export: return (try? decoder.decode(ExportResult.self, from: data)).map(JobResult.export)
        case .sync: return (try? decoder.decode(SyncResult.self, from: data)).map(JobResult.sync)
        case .train: return (try? decoder.decode(TrainResult.self, from: data)).map(JobResult.train)
        }
    }

    private static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }
}

/// A refresh: the new size, who entered and left, and where the time went.
public struct RefreshResult: Sendable, Equatable, Codable {
    public var size: Int64
    public var entered: Int64
    public var exited: Int64
    /// The whole refresh.
    public var durationMilliseconds: Int64
    /// Of the duration, the rule's evaluation (the rest wrote the membership).
    public var selectMilliseconds: Int64?
    /// Why nothing was evaluated (a deleted or paused segment).
    public var skipped: String?
    /// The worker that ran it.
    public var worker: String
    /// The instant every window ended at, in seconds since 1970.
    public var evaluatedAt: Double?
    /// Where the rule was evaluated: `engine` (the tenant's audience in memory) or `sql`.
    public var path: String?

    public init(
        size: Int64, entered: Int64, exited: Int64, durationMilliseconds: Int64, selectMilliseconds: Int64? = nil,
        skipped: String? = nil, worker: String, evaluatedAt: Double? = nil, path: String? = nil
    ) {
        self.size = size
        self.entered = entered
        self.exited = exited
        self.durationMilliseconds = durationMilliseconds
        self.selectMilliseconds = selectMilliseconds
        self.skipped = skipped
        self.worker = worker
        self.evaluatedAt = evaluatedAt
        self.path = path
    }

    enum CodingKeys: String, CodingKey {
        case size, entered, exited, path
        case durationMilliseconds = "duration_ms"
        case selectMilliseconds = "select_ms"
        case skipped, worker
        case evaluatedAt = "evaluated_at"
    }
}

/// An export: the file's name in the export directory, its size and checksum.
public struct ExportResult: Sendable, Equatable, Codable {
    /// `tenants/{tenant}/exports/{id}`.
    public var export: String
    public var rows: Int64
    public var bytes: Int64
    public var sha256: String
    public var format: String
    /// The file's name under the tenant's export directory.
    public var file: String
    public var worker: String
    /// Why the file was deleted (kept for `export_retention_hours`, its segment purged, a
    /// user erased); nil while it can be downloaded.
    public var expired: String?

    public init(export: String, rows: Int64, bytes: Int64, sha256: String, format: String, file: String, worker: String) {
        self.export = export
        self.rows = rows
        self.bytes = bytes
        self.sha256 = sha256
        self.format = format
        self.file = file
        self.worker = worker
    }
}

/// A pull: what the connector's source held and how membership changed, or why nothing was pulled.
public struct SyncResult: Sendable, Equatable, Codable {
    /// Nil when the pull was skipped.
    public var sync: ConnectorSyncResult?
    /// Why nothing was pulled (a deleted or paused segment).
    public var skipped: String?
    /// Bytes read from the source.
    public var bytes: Int64?
    public var worker: String

    public init(sync: ConnectorSyncResult?, skipped: String? = nil, bytes: Int64? = nil, worker: String) {
        self.sync = sync
        self.skipped = skipped
        self.bytes = bytes
        self.worker = worker
    }

    // Flat in storage: the sync's own fields beside `skipped`, `bytes` and `worker`.
    enum CodingKeys: String, CodingKey { case skipped, bytes, worker }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        skipped = try container.decodeIfPresent(String.self, forKey: .skipped)
        bytes = try container.decodeIfPresent(Int64.self, forKey: .bytes)
        worker = try container.decodeIfPresent(String.self, forKey: .worker) ?? ""
        sync = skipped == nil ? try ConnectorSyncResult(from: decoder) : nil
    }

    public func encode(to encoder: any Encoder) throws {
        try sync?.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(skipped, forKey: .skipped)
        try container.encodeIfPresent(bytes, forKey: .bytes)
        try container.encode(worker, forKey: .worker)
    }
}

/// A training: the model's headline figures (GetModelCard has the whole card) and the scoring's membership change.
public struct TrainResult: Sendable, Equatable, Codable {
    /// `tenants/{tenant}/segments/{segment}/model`.
    public var model: String
    public var algorithm: String
    public var holdoutAUC: Double
    public var trainingUsers: Int64
    public var scoredUsers: Int64
    public var size: Int64
    public var entered: Int64
    public var exited: Int64
    public var durationMilliseconds: Int64
    public var worker: String

    public init(
        model: String, algorithm: String, holdoutAUC: Double, trainingUsers: Int64, scoredUsers: Int64, size: Int64, entered: Int64,
        exited: Int64, durationMilliseconds: Int64, worker: String
    ) {
        self.model = model
        self.algorithm = algorithm
        self.holdoutAUC = holdoutAUC
        self.trainingUsers = trainingUsers
        self.scoredUsers = scoredUsers
        self.size = size
        self.entered = entered
        self.exited = exited
        self.durationMilliseconds = durationMilliseconds
        self.worker = worker
    }

    enum CodingKeys: String, CodingKey {
        case model, algorithm
        case holdoutAUC = "holdout_auc"
        case trainingUsers = "training_users"
        case scoredUsers = "scored_users"
        case size, entered, exited
        case durationMilliseconds = "duration_ms"
        case worker
    }
}
