import Foundation
import PostgresNIO

/// Job states (docs/jobs.md draws them):
/// queued → running → succeeded | failed | cancelled; running → retrying → running.
public enum JobState: String, Sendable, CaseIterable {
    case queued, running, retrying, succeeded, failed, cancelled

    /// No further change will happen.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// What a running job has done so far.
public struct JobProgress: Sendable, Equatable, Codable {
    public var done: Int64
    public var total: Int64
    public var stage: String
    public init(done: Int64 = 0, total: Int64 = 0, stage: String = "") {
        self.done = done
        self.total = total
        self.stage = stage
    }
}

/// One failed attempt.
public struct JobError: Sendable, Equatable, Codable {
    public var attempt: Int
    public var code: String
    public var message: String
    public var time: Date
}

/// A job as stored: the unit of work behind an operation.
public struct JobRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let jobID: Int64
    public let kind: String
    /// The resource the job works on (`tenants/acme/segments/buyers`).
    public let target: String
    public let args: [String: String]
    public let state: JobState
    public let attempt: Int
    public let maxAttempts: Int
    public let runAt: Date
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
    public let cancelRequested: Bool
    public let progress: JobProgress
    /// Kind-specific result (JSON object of numbers and strings).
    public let result: [String: String]?
    public let errors: [JobError]
    public let creator: String
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?

    /// `tenants/{tenant}/operations/{id}`.
    public var name: String { "tenants/\(tenantID)/operations/\(jobID)" }

    static let columns = """
        tenant_id, job_id, kind, target, args::text, state, attempt, max_attempts, run_at, lease_owner, lease_expires_at,
        cancel_requested, progress::text, result::text, errors::text, creator, created_at, started_at, finished_at
        """

    static func decode(_ row: PostgresRow) throws -> JobRecord {
        let r = row.makeRandomAccess()
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        func json<T: Decodable>(_ column: String, _ type: T.Type) throws -> T? {
            guard let text = try r[column].decode(String?.self) else { return nil }
            return try? decoder.decode(T.self, from: Data(text.utf8))
        }
        return JobRecord(
            tenantID: TenantID(try r["tenant_id"].decode(String.self))!, jobID: try r["job_id"].decode(Int64.self),
            kind: try r["kind"].decode(String.self), target: try r["target"].decode(String.self),
            args: try json("args", [String: String].self) ?? [:],
            state: JobState(rawValue: try r["state"].decode(String.self)) ?? .failed,
            attempt: Int(try r["attempt"].decode(Int32.self)), maxAttempts: Int(try r["max_attempts"].decode(Int32.self)),
            runAt: try r["run_at"].decode(Date.self), leaseOwner: try r["lease_owner"].decode(String?.self),
            leaseExpiresAt: try r["lease_expires_at"].decode(Date?.self), cancelRequested: try r["cancel_requested"].decode(Bool.self),
            progress: try json("progress", JobProgress.self) ?? JobProgress(), result: try json("result", [String: String].self),
            errors: try json("errors", [JobError].self) ?? [], creator: try r["creator"].decode(String.self),
            createdAt: try r["created_at"].decode(Date.self), startedAt: try r["started_at"].decode(Date?.self),
            finishedAt: try r["finished_at"].decode(Date?.self))
    }
}

extension Encodable {
    /// JSON text for a jsonb bind (ISO 8601 dates, sorted keys).
    var jobJSON: String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "null"
    }
}
