import Crypto
import Foundation
import Logging
import SegmentDomain
import ServiceLifecycle
import Synchronization

/// Signs every tenant's audit chain at each sequence number that is a multiple
/// of N, with a key the database does not hold, and appends the checkpoints to
/// a file (one JSON line each, ``AuditCheckpoint``) and to the log.
///
/// A database owner can rewrite an entry and recompute every hash after it, and
/// the chain verifies again; a checkpoint signed before the rewrite no longer
/// matches (`segctl audit verify --checkpoints FILE`). It protects what was
/// written before the checkpoint, and only as well as the file (or the log
/// shipped elsewhere) is kept out of the database owner's reach.
///
/// Checkpoints sit at exact multiples, so a pass after a pause (or a restart)
/// signs each multiple it missed: entries never change once written, and the
/// hash at a sequence is the same whenever it is read. What was signed already
/// is read back from the file at the first pass.
///
/// ```swift
/// let checkpointer = AuditCheckpointer(
///     trail: useCases.audit, key: signingKey,
///     configuration: .init(filePath: home + "/audit/checkpoints.jsonl"), logger: logger)
/// // a Service of the application's ServiceGroup, or one pass:
/// let written = try await checkpointer.checkpoint()
/// ```
public final class AuditCheckpointer: Service, Sendable {
    /// How often and where checkpoints are written.
    public struct Configuration: Sendable {
        /// A checkpoint at every sequence number that is a multiple of this (at least 1).
        public var every: Int64 = 1000
        /// The file checkpoints are appended to, created private to the user (0600).
        public var filePath: String
        /// How often chain heads are read.
        public var interval: Duration = .seconds(10)
        /// Wall-clock time of each signature (injected by tests).
        public var clock: @Sendable () -> Date = { Date() }

        public init(filePath: String) {
            self.filePath = filePath
        }
    }

    let trail: AuditTrail
    let key: Curve25519.Signing.PrivateKey
    let configuration: Configuration
    let logger: Logger
    /// The highest checkpointed sequence of each chain; nil until the file is read.
    private let written = Mutex<[TenantID: Int64]?>(nil)

    public init(trail: AuditTrail, key: Curve25519.Signing.PrivateKey, configuration: Configuration, logger: Logger) {
        self.trail = trail
        self.key = key
        self.configuration = configuration
        self.logger = logger
    }

    /// Checkpoints every `interval` until shutdown, and once more on the way out.
    public func run() async throws {
        logger.notice(
            "signing audit checkpoints",
            metadata: [
                "every": "\(configuration.every)", "file": "\(configuration.filePath)",
                "public_key": "\(key.publicKey.rawRepresentation.base64EncodedString())",
            ])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pass()
            // Sleep, but wake at once for a graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.interval) }
        }
        // The services after this one in the group (the database) stop after it: a last pass
        // signs what came due since the previous one.
        if !Task.isCancelled { await pass() }
    }

    private func pass() async {
        do {
            try await checkpoint()
        } catch {
            logger.error("could not write audit checkpoints", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// One pass: signs each multiple of `every` that a chain has reached and that is
    /// not in the file yet, appends the lines (synced to disk) and logs each one.
    /// Returns the checkpoints written. Not meant to run concurrently with itself.
    @discardableResult
    public func checkpoint() async throws -> [AuditCheckpoint] {
        let every = max(configuration.every, 1)
        var last = try written.withLock { $0 } ?? readWritten()
        let heads = try await trail.heads()
        var checkpoints: [AuditCheckpoint] = []
        for (tenant, head) in heads.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let done = last[tenant] ?? 0
            if head < done {
                // Entries can only be added: a head below a signed checkpoint means they were removed.
                logger.error(
                    "an audit chain is shorter than its last checkpoint: entries were removed",
                    metadata: ["chain": "\(tenant)", "head": "\(head)", "checkpoint": "\(done)"])
                continue
            }
            let due = Array(stride(from: (done / every + 1) * every, through: head, by: Int(every)))
            if due.isEmpty { continue }
            var hashes: [Int64: String] = [:]
            for chunk in stride(from: 0, to: due.count, by: 1000) {
                let part = Array(due[chunk..<min(chunk + 1000, due.count)])
                hashes.merge(try await trail.hashes(tenant: tenant, sequences: part)) { $1 }
            }
            for sequence in due {
                guard let hash = hashes[sequence] else {
                    logger.error(
                        "an audit chain has no entry at a sequence below its head: entries were removed",
                        metadata: ["chain": "\(tenant)", "sequence": "\(sequence)", "head": "\(head)"])
                    continue
                }
                checkpoints.append(
                    try AuditCheckpoint.signed(chain: tenant, sequence: sequence, hash: hash, time: configuration.clock(), key: key))
                last[tenant] = sequence
            }
        }
        if !checkpoints.isEmpty {
            try append(checkpoints.map { $0.jsonLine + "\n" }.joined())
            for checkpoint in checkpoints {
                logger.notice(
                    "audit checkpoint",
                    metadata: ["chain": "\(checkpoint.chain)", "sequence": "\(checkpoint.sequence)", "checkpoint": "\(checkpoint.jsonLine)"])
            }
        }
        written.withLock { $0 = last }
        return checkpoints
    }

    /// The highest sequence per chain in the file (none when there is no file yet).
    private func readWritten() throws -> [TenantID: Int64] {
        guard FileManager.default.fileExists(atPath: configuration.filePath) else { return [:] }
        guard let text = try? String(contentsOfFile: configuration.filePath, encoding: .utf8) else {
            throw DomainError(.misconfigured, "cannot read the audit checkpoint file \(configuration.filePath)")
        }
        var last: [TenantID: Int64] = [:]
        for line in text.split(separator: "\n") {
            // A line this process cannot read is left for `segctl audit verify` to report.
            guard let checkpoint = try? AuditCheckpoint(jsonLine: String(line)) else { continue }
            last[checkpoint.chain] = max(last[checkpoint.chain] ?? 0, checkpoint.sequence)
        }
        return last
    }

    /// Appends `text` to the file (created 0600) and syncs it to disk.
    private func append(_ text: String) throws {
        let path = configuration.filePath
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DomainError(.misconfigured, "cannot open the audit checkpoint file \(path) (errno \(errno))") }
        defer { close(descriptor) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw DomainError(.internalError, "cannot write the audit checkpoint file \(path) (errno \(errno))") }
            bytes = bytes.dropFirst(count)
        }
        guard fsync(descriptor) == 0 else { throw DomainError(.internalError, "cannot sync the audit checkpoint file \(path)") }
    }
}
