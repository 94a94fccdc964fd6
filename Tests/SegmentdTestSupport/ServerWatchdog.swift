import Foundation
import Logging
import PostgresNIO
import SegmentEngine
import SegmentStore
import Synchronization

/// Says what a test server is waiting on when it takes far longer than any test
/// should: its lifecycle log (which services have stopped), the pool's leased
/// connections, the audience engine's background work and the database's
/// sessions. Printed once, only then; a full run once hung past the time limit
/// with nothing in the log to say where.
final class ServerWatchdog: Sendable {
    /// The service group's log lines (debug level), kept in memory until needed.
    let lifecycle = LifecycleLog()
    private let database: Database
    private let audiences: AudienceRegistry?
    private let superuser: DatabaseSettings

    init(database: Database, audiences: AudienceRegistry?, superuser: DatabaseSettings) {
        self.database = database
        self.audiences = audiences
        self.superuser = superuser
    }

    /// Runs `body`; if it has not finished after `limit`, prints the server's state (once) and goes on waiting.
    func watch<Result: Sendable>(_ stage: String, limit: Duration, _ body: () async throws -> Result) async throws -> Result {
        let alarm = Task {
            try await Task.sleep(for: limit)
            await self.report("\(stage) still running after \(limit)")
        }
        defer { alarm.cancel() }
        return try await body()
    }

    private func report(_ headline: String) async {
        var lines = ["ServerWatchdog: \(headline)"]
        lines.append("  pool connections leased: \(database.connectionsInUse)")
        if let audiences { lines.append("  audience engine: \(await audiences.backgroundWork)") }
        lines.append("  lifecycle log:")
        lines += lifecycle.lines.map { "    \($0)" }
        lines.append("  database sessions:")
        do {
            let sessions = try await superuser.withSingleConnection(logger: Logger(label: "test.watchdog")) { connection in
                var sessions: [String] = []
                for try await (pid, state, wait, age, query) in try await connection.query(
                    """
                    SELECT pid, coalesce(state, ''), coalesce(wait_event_type || ':' || wait_event, ''),
                           coalesce(to_char(now() - xact_start, 'HH24:MI:SS'), ''), left(query, 160)
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """, logger: Logger(label: "test.watchdog")
                ).decode((Int32, String, String, String, String).self) {
                    sessions.append("\(pid) \(state) [\(wait)] xact \(age): \(query)")
                }
                return sessions
            }
            lines += sessions.map { "    \($0)" }
        } catch {
            lines.append("    (could not read: \(error))")
        }
        // Standard error: standard output is buffered when piped, and a hung run never flushes it.
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// Log lines kept in memory (the last 400).
final class LifecycleLog: Sendable {
    private let kept = Mutex<[String]>([])

    var lines: [String] { kept.withLock { $0 } }

    func append(_ line: String) {
        kept.withLock {
            $0.append(line)
            if $0.count > 400 { $0.removeFirst($0.count - 400) }
        }
    }

    /// A logger at debug level that writes here.
    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = .debug
        return logger
    }

    private struct Handler: LogHandler {
        let log: LifecycleLog
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.append("\(Date()) \(event.level) \(event.message) \(fields)")
        }
    }
}

/// Prints the setup step a test server is still in after a while (once), to standard error.
final class SetupAlarm: Sendable {
    private let current = Mutex<(stage: String, since: ContinuousClock.Instant)>(("", .now))
    private let alarm = Mutex<Task<Void, Never>?>(nil)

    init(after limit: Duration) {
        let task = Task { [weak self] in
            guard (try? await Task.sleep(for: limit)) != nil, let self else { return }
            let (stage, since) = self.current.withLock { $0 }
            FileHandle.standardError.write(
                Data("ServerWatchdog: a test server's setup still running after \(limit): \(stage) for \(ContinuousClock.now - since)\n".utf8))
        }
        alarm.withLock { $0 = task }
    }

    func stage(_ name: String) {
        current.withLock { $0 = (name, .now) }
    }

    func cancel() {
        alarm.withLock { $0?.cancel() }
    }
}
