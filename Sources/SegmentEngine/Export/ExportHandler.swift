import Crypto
import Foundation
import SegmentDomain
import SegmentStore

/// Writes a segment's members to a CSV or NDJSON file in the export directory.
///
/// The file is written under an attempt-scoped temporary name, flushed to
/// disk, then renamed into place, so a crashed attempt never leaves a partial
/// export under the final name; the retry writes its own file. Rows stream from
/// one database snapshot into a small buffer: memory stays flat for any size.
public struct ExportHandler: JobHandler {
    public let kind = JobKind.export
    let store: ExportStore
    let queue: JobQueue
    let directory: String
    let lease: Duration

    public init(store: ExportStore, queue: JobQueue, directory: String, lease: Duration = .seconds(30)) {
        self.store = store
        self.queue = queue
        self.directory = directory
        self.lease = lease
    }

    /// Where an attempt's export file lives: `<directory>/<tenant>/<job>-<attempt>.<csv|ndjson>`.
    /// Each attempt has its own name, so a late attempt can never replace or remove the file of the one that finished.
    public static func path(directory: String, tenant: TenantID, fileName: String) -> String {
        "\(directory)/\(tenant)/\(fileName)"
    }

    static func fileName(jobID: Int64, attempt: Int, format: String) -> String {
        "\(jobID)-\(attempt).\(format == "ndjson" ? "ndjson" : "csv")"
    }

    public func run(_ job: JobRecord, worker: String) async throws {
        let format = job.args.format == "ndjson" ? "ndjson" : "csv"
        let attributes = job.args.attributes
        let segmentID = job.segmentID
        let fileName = Self.fileName(jobID: job.jobID, attempt: job.attempt, format: format)
        let final = Self.path(directory: directory, tenant: job.tenantID, fileName: fileName)
        let folder = (final as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = "\(final).tmp"
        // Leftovers of earlier attempts of this job are garbage now.
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where file.hasPrefix("\(job.jobID)-") && file.hasSuffix(".tmp") {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(file)")
        }
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw DomainError(.internalError, "cannot create \(temporary)") }
        let writer = ExportWriter(handle: handle)
        var moved = false
        do {
            if format == "csv" { try writer.write(CSV.line(["user_id"] + attributes), rows: 0) }
            let progress = ExportProgress(queue: queue, job: job, worker: worker, lease: lease)
            try await store.chunks(
                tenant: job.tenantID, segmentID: segmentID, attributes: attributes, format: format == "ndjson" ? .ndjson : .csv
            ) { total in
                progress.total = total
            } chunk: { lines, rows in
                try writer.write(lines, rows: rows)
                try await progress.advance(by: rows)
            }
            try writer.finish()
            try handle.synchronize()
            try handle.close()
            try Task.checkCancellation()
            // The final name appears only once the file is complete and on disk.
            if FileManager.default.fileExists(atPath: final) { try FileManager.default.removeItem(atPath: final) }
            try FileManager.default.moveItem(atPath: temporary, toPath: final)
            moved = true
            try Self.syncDirectory(folder)
            try await store.finish(
                job, worker: worker,
                result: ExportResult(
                    export: "tenants/\(job.tenantID)/exports/\(job.jobID)", rows: Int64(writer.rows), bytes: Int64(writer.bytes),
                    sha256: writer.digest, format: format, file: fileName, worker: worker))
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            // An export whose job did not finish (cancelled, lost its lease) leaves no file behind.
            if moved { try? FileManager.default.removeItem(atPath: final) }
            throw error
        }
    }

    public func failed(_ job: JobRecord, message: String) async {}

    /// Flushes a directory's entries to disk, so a rename into it survives a crash.
    static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw DomainError(.internalError, "cannot open the export directory to sync it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw DomainError(.internalError, "cannot sync the export directory") }
    }
}
