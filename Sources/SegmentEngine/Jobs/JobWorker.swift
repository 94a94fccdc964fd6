import Foundation
import Logging
import Metrics
import SegmentDomain
import ServiceLifecycle
import Synchronization

/// Claims jobs and runs them with their handlers: up to `concurrency` at once,
/// each with a lease renewed while it runs. Woken by NOTIFY (and by a poll as a
/// fallback); rescues jobs whose worker died. On graceful shutdown it cancels
/// what runs and hands those jobs back to the queue at once.
///
/// Every task it starts is a child of `run()` (one task group: the listener,
/// the rescuer, the poll ticker and each running job), so nothing outlives the
/// service. Time comes from an injected clock, so leases and polls are tested
/// without waiting.
public final class JobWorker: Service, Sendable {
    public struct Configuration: Sendable {
        public var concurrency = 2
        public var lease: Duration = .seconds(30)
        /// How often an idle worker looks for due jobs without a NOTIFY.
        public var pollInterval: Duration = .seconds(2)
        /// How often expired leases are rescued.
        public var rescueInterval: Duration = .seconds(15)
        public init() {}
    }

    public let id: String
    let queue: any JobSource
    let handlers: [JobKind: any JobHandler]
    let configuration: Configuration
    let clock: any Clock<Duration>
    let logger: Logger
    /// How many jobs run now.
    private let running = Atomic<Int>(0)
    /// The cancellation signal of each running job, by ``key(_:_:)``: a NOTIFY that its
    /// cancellation was requested stops its work at once, without waiting for a renewal.
    private let cancelSignals = Mutex<[String: AsyncStream<Void>.Continuation]>([:])

    public init(
        queue: any JobSource, handlers: [any JobHandler], configuration: Configuration = Configuration(),
        clock: any Clock<Duration> = ContinuousClock(), id: String? = nil, logger: Logger
    ) {
        self.id = id ?? "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))"
        self.queue = queue
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    static func key(_ tenant: TenantID, _ id: Int64) -> String { "\(tenant):\(id)" }

    /// How many jobs run now.
    public var inFlight: Int { running.load(ordering: .relaxed) }

    private var kinds: [JobKind] { handlers.keys.sorted { $0.rawValue < $1.rawValue } }

    public func run() async throws {
        // Each element asks the claim loop to look for work; one pending ask is enough.
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wake.yield()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen(wake: wake) }
                group.addTask { await self.rescueLoop(wake: wake) }
                group.addTask { await self.pollTicker(wake: wake) }
                // Ends when the stream finishes (graceful shutdown) or the task is cancelled.
                for await _ in wakeups {
                    let free = configuration.concurrency - inFlight
                    guard free > 0 else { continue }
                    let jobs: [JobRecord]
                    do {
                        jobs = try await queue.claim(worker: id, kinds: kinds, limit: free, lease: configuration.lease)
                    } catch {
                        logger.warning("could not claim jobs", metadata: ["error": "\(String(reflecting: error))"])
                        continue
                    }
                    running.add(jobs.count, ordering: .relaxed)
                    for job in jobs {
                        group.addTask {
                            await self.execute(job)
                            self.running.subtract(1, ordering: .relaxed)
                            wake.yield()
                        }
                    }
                    // A full batch may leave more due jobs behind.
                    if jobs.count == free { wake.yield() }
                }
                // Stop the loops and the running jobs; those jobs are handed back below.
                group.cancelAll()
            }
        } onGracefulShutdown: {
            wake.finish()
        }
        // In a task of its own: the hand-back must run even when this task was cancelled.
        let source = self.queue
        let workerID = self.id
        if let released = try? await Task(operation: { try await source.release(worker: workerID) }).value, released > 0 {
            logger.notice("handed running jobs back to the queue", metadata: ["jobs": "\(released)"])
        }
    }

    /// Runs every due job to the end, then returns (tests, and maintenance without a running service).
    public func drain() async throws {
        while true {
            let jobs = try await queue.claim(worker: id, kinds: kinds, limit: max(1, configuration.concurrency), lease: configuration.lease)
            if jobs.isEmpty { return }
            await withTaskGroup(of: Void.self) { group in
                for job in jobs { group.addTask { await self.execute(job) } }
            }
        }
    }

    // MARK: Loops

    /// NOTIFY: a new job wakes the claim loop; a cancellation signals its job.
    private func listen(wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await queue.listen { payload in
                    if payload.hasPrefix("cancel:") {
                        let key = String(payload.dropFirst("cancel:".count))
                        self.cancelSignals.withLock { $0[key] }?.yield()
                    } else {
                        wake.yield()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("job notifications stopped; polling until they resume", metadata: ["error": "\(error)"])
            }
            try? await clock.sleep(for: configuration.pollInterval)
        }
    }

    private func rescueLoop(wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            if let rescued = try? await queue.rescue(), rescued > 0 {
                logger.notice("rescued jobs whose lease expired", metadata: ["jobs": "\(rescued)"])
                wake.yield()
            }
            try? await clock.sleep(for: configuration.rescueInterval)
        }
    }

    /// The fallback for lost notifications: look for due jobs every poll interval
    /// (a retry's backoff ends without any NOTIFY, too).
    private func pollTicker(wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do { try await clock.sleep(for: configuration.pollInterval) } catch { return }
            wake.yield()
        }
    }

    // MARK: One job

    /// How an attempt's run ended.
    private enum Ending: Sendable {
        case finished(Result<Void, any Error>)
        /// Its cancellation was requested (by a renewal's answer or a NOTIFY).
        case cancelRequested
        /// The attempt no longer owns the job (rescued after its lease expired).
        case lost
    }

    private func execute(_ job: JobRecord) async {
        guard let handler = handlers[job.kind] else {
            let state = try? await queue.fail(job, worker: id, code: "UNKNOWN_KIND", message: "no handler for \(job.kind)", retryable: false)
            if let state { Self.countFailedAttempt(job, now: state) }
            return
        }
        let key = Self.key(job.tenantID, job.jobID)
        let (cancelRequests, cancelSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        cancelSignals.withLock { $0[key] = cancelSignal }
        defer { _ = cancelSignals.withLock { $0.removeValue(forKey: key) } }

        let id = self.id
        // The work, the lease renewal and the cancellation signal race; the first to end decides.
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await handler.run(job, worker: id)
                    return .finished(.success(()))
                } catch {
                    return .finished(.failure(error))
                }
            }
            group.addTask { await self.renewWhileRunning(job) }
            group.addTask {
                for await _ in cancelRequests { return .cancelRequested }
                return nil
            }
            var ending: Ending = .lost
            while let next = await group.next() {
                if let next {
                    ending = next
                    break
                }
            }
            group.cancelAll()
            return ending
        }
        await settle(job, handler: handler, ending: ending)
    }

    /// Renews the lease every third of it; returns when the job is cancelled or lost (nil when this task is cancelled).
    private func renewWhileRunning(_ job: JobRecord) async -> Ending? {
        while true {
            do { try await clock.sleep(for: configuration.lease / 3) } catch { return nil }
            do {
                switch try await queue.renew(job, worker: id, lease: configuration.lease) {
                case true?: return .cancelRequested
                case nil: return .lost
                case false?: continue
                }
            } catch {
                if Task.isCancelled { return nil }
                logger.warning("could not renew a job's lease", metadata: ["job": "\(job.name)", "error": "\(error)"])
            }
        }
    }

    /// Records how the attempt ended. A shutdown leaves the job to `run()`'s hand-back.
    private func settle(_ job: JobRecord, handler: any JobHandler, ending: Ending) async {
        switch ending {
        case .finished(.success):
            logger.info("job succeeded", metadata: ["job": "\(job.name)", "kind": "\(job.kind)", "attempt": "\(job.attempt)"])
        case .lost:
            logger.notice("job attempt lost its lease; another attempt runs it", metadata: ["job": "\(job.name)", "attempt": "\(job.attempt)"])
        case .cancelRequested:
            try? await queue.finishCancelled(job, worker: id)
            logger.notice("job cancelled", metadata: ["job": "\(job.name)"])
        case .finished(.failure(let error)):
            if Task.isCancelled { return }
            // A handler that failed because its cancellation was requested (its completion refused) ends cancelled.
            if ((try? await queue.renew(job, worker: id, lease: configuration.lease)) ?? nil) == true {
                try? await queue.finishCancelled(job, worker: id)
                logger.notice("job cancelled", metadata: ["job": "\(job.name)"])
                return
            }
            let domainError = error as? DomainError
            let message = domainError?.message ?? "\(error)"
            let code = domainError.map { Self.codeName($0.code) } ?? "INTERNAL"
            // Bad input and unmet preconditions (too little data, a file over its limit) fail the same way every time.
            let permanent = domainError.map { $0.code == .failedPrecondition || $0.code == .invalidArgument } ?? false
            let state = try? await queue.fail(job, worker: id, code: code, message: message, retryable: !permanent)
            // Only an attempt that still owned the job records its failure on the resource: a stale
            // one must not mark a segment failed after a newer attempt succeeded.
            if let state {
                Self.countFailedAttempt(job, now: state)
                await handler.failed(job, message: message)
            }
            logger.warning(
                "job attempt failed",
                metadata: [
                    "job": "\(job.name)", "attempt": "\(job.attempt)", "now": "\(state.map(\.rawValue) ?? "lost")",
                    "error": "\(String(reflecting: error))",
                ])
        }
    }

    /// Counts a failed attempt (`segmentd_job_attempts_failed_total{kind,state}`) by the job's state after it:
    /// `retrying`, or `failed` when no attempt is left — what an alert on failing refreshes watches.
    /// Stale attempts (no longer owning the job) are not counted: their failure changed nothing.
    static func countFailedAttempt(_ job: JobRecord, now state: JobState) {
        Counter(label: "segmentd_job_attempts_failed_total", dimensions: [("kind", job.kind.rawValue), ("state", state.rawValue)]).increment()
    }

    /// `tooExpensive` → `TOO_EXPENSIVE`: error codes in operations read like status reasons.
    static func codeName(_ code: DomainError.Code) -> String {
        var name = ""
        for character in code.description {
            if character.isUppercase { name += "_" }
            name += character.uppercased()
        }
        return name
    }
}
