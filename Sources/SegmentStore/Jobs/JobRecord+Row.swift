import Foundation
import PostgresNIO
import SegmentDomain

extension JobRecord {
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
        let kindName = try r["kind"].decode(String.self)
        guard let kind = JobKind(rawValue: kindName) else {
            throw DomainError(.internalError, "job \(try r["job_id"].decode(Int64.self)) has an unknown kind '\(kindName)'")
        }
        return JobRecord(
            tenantID: TenantID(try r["tenant_id"].decode(String.self))!, jobID: try r["job_id"].decode(Int64.self),
            kind: kind, target: try r["target"].decode(String.self),
            args: try json("args", JobArguments.self) ?? JobArguments(),
            state: JobState(rawValue: try r["state"].decode(String.self)) ?? .failed,
            attempt: Int(try r["attempt"].decode(Int32.self)), maxAttempts: Int(try r["max_attempts"].decode(Int32.self)),
            runAt: try r["run_at"].decode(Date.self), leaseOwner: try r["lease_owner"].decode(String?.self),
            leaseExpiresAt: try r["lease_expires_at"].decode(Date?.self), cancelRequested: try r["cancel_requested"].decode(Bool.self),
            progress: try json("progress", JobProgress.self) ?? JobProgress(),
            result: try r["result"].decode(String?.self).flatMap { JobResult.decode(kind: kind, json: $0) },
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
