import Foundation
import Logging
import SegmentStore
import ServiceLifecycle
import Synchronization
import SegmentDomain

/// Claims jobs and runs them with their handlers: up to `concurrency` at once,
/// each with a lease renewed while it runs. Woken by NOTIFY, with polling as a
/// fallback; rescues jobs whose worker died. On graceful shutdown it cancels
/// what runs and hands those jobs back to the queue at once.
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
    let queue: JobQueue
    let handlers: [JobKind: any JobHandler]
    let configuration: Configuration
    let logger: Logger
    /// Running jobs by (tenant, id): the task that runs and finishes each (cancelled on shutdown).
    private let running = Mutex<[String: Task<Void, Never>]>([:])
    /// The handler's work of each running job (cancelled when the job's cancellation is requested).
    private let works = Mutex<[String: Task<Void, any Error>]>([:])
    /// Set by NOTIFY (or a finished job) to end an idle wait early.
    private let woken = Atomic<Bool>(false)

    public init(queue: JobQueue, handlers: [any JobHandler], configuration: Configuration = Configuration(), logger: Logger) {
        self.id = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))"
        self.queue = queue
        self.handlers = Dictionary(uniqueKeysWithValues: handlers.map { ($0.kind, $0) })
        self.configuration = configuration
        self.logger = logger
    }

    static func key(_ tenant: TenantID, _ id: Int64) -> String { "\(tenant):\(id)" }

    /// How many jobs run now.
    public var inFlight: Int { running.withLock { $0.count } }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listenForWakeups() }
            group.addTask { await self.rescueLoop() }
            group.addTask { await self.claimLoop() }
            await gracefulShutdownSignal()
            group.cancelAll()
        }
        // Hand in-flight jobs back at once: cancel their tasks, then release the rows.
        let tasks = running.withLock { Array($0.values) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        // In a task of its own: the hand-back must run even when this task was cancelled.
        let queue = self.queue, id = self.id
        if let released = try? await Task(operation: { try await queue.release(worker: id) }).value, released > 0 {
            logger.notice("handed running jobs back to the queue", metadata: ["jobs": "\(released)"])
        }
    }

    /// Resolves when graceful shutdown starts (or the task is cancelled).
    private func gracefulShutdownSignal() async {
        try? await gracefulShutdown()
    }

    private func listenForWakeups() async {
        while !Task.isCancelled {
            do {
                try await queue.listen { payload in
                    if payload.hasPrefix("cancel:") {
                        let key = String(payload.dropFirst("cancel:".count))
                        self.works.withLock { $0[key] }?.cancel()
                    } else {
                        self.wakeUp()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("job notifications stopped; polling until they resume", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.pollInterval)
            }
        }
    }

    private func rescueLoop() async {
        while !Task.isCancelled {
            if let rescued = try? await queue.rescue(), rescued > 0 {
                logger.notice("rescued jobs whose lease expired", metadata: ["jobs": "\(rescued)"])
                wakeUp()
            }
            try? await Task.sleep(for: configuration.rescueInterval)
        }
    }

    private func claimLoop() async {
        while !Task.isCancelled {
            woken.store(false, ordering: .relaxed)
            let started = (try? await claimAndStart()) ?? 0
            if started > 0 { continue }
            // Idle until a NOTIFY or the poll interval, whichever comes first.
            let deadline = ContinuousClock.now + configuration.pollInterval
            while !Task.isCancelled, !woken.load(ordering: .relaxed), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(25))
            }
        }
    }

    private func wakeUp() { woken.store(true, ordering: .relaxed) }

    /// `tooExpensive` → `TOO_EXPENSIVE`: error codes in operations read like status reasons.
    static func codeName(_ code: DomainError.Code) -> String {
        var name = ""
        for character in code.description {
            if character.isUppercase { name += "_" }
            name += character.uppercased()
        }
        return name
    }

    /// Claims what fits and starts it; returns how many started.
    @discardableResult
    func claimAndStart() async throws -> Int {
        let free = configuration.concurrency - inFlight
        guard free > 0 else { return 0 }
        let jobs = try await queue.claim(worker: id, kinds: Array(handlers.keys), limit: free, lease: configuration.lease)
        for job in jobs {
            let key = Self.key(job.tenantID, job.jobID)
            let task = Task { await self.execute(job) }
            running.withLock { $0[key] = task }
        }
        return jobs.count
    }

    /// Runs every due job to the end (tests and `segctl`-free maintenance).
    public func drain() async throws {
        while true {
            let started = try await claimAndStart()
            let tasks = running.withLock { Array($0.values) }
            for task in tasks { await task.value }
            if started == 0 && tasks.isEmpty { return }
        }
    }

    private func execute(_ job: JobRecord) async {
        let key = Self.key(job.tenantID, job.jobID)
        defer {
            running.withLock { _ = $0.removeValue(forKey: key) }
            wakeUp()
        }
        guard let handler = handlers[job.kind] else {
            _ = try? await queue.fail(job, worker: id, code: "UNKNOWN_KIND", message: "no handler for \(job.kind)", retryable: false)
            return
        }
        let work = Task { try await handler.run(job, worker: id) }
        works.withLock { $0[key] = work }
        defer { works.withLock { _ = $0.removeValue(forKey: key) } }
        // Renew the lease while the work runs; stop the work when cancelled or when the job is lost.
        let renewal = Task {
            var cancelRequested = false
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.lease / 3)
                if Task.isCancelled { break }
                do {
                    switch try await queue.renew(job, worker: id, lease: configuration.lease) {
                    case true?: cancelRequested = true; work.cancel()
                    case nil: work.cancel()  // Rescued or finished elsewhere: this attempt is lost.
                    case false?: break
                    }
                } catch {
                    logger.warning("could not renew a job's lease", metadata: ["job": "\(job.name)", "error": "\(error)"])
                }
                if cancelRequested { break }
            }
            return cancelRequested
        }
        let outcome = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        renewal.cancel()
        switch outcome {
        case .success:
            logger.info("job succeeded", metadata: ["job": "\(job.name)", "kind": "\(job.kind)", "attempt": "\(job.attempt)"])
        case .failure(let error):
            let shuttingDown = Task.isCancelled
            if shuttingDown { return }  // released to the queue by run()
            let cancelled = ((try? await queue.renew(job, worker: id, lease: configuration.lease)) ?? nil) == true
            if cancelled {
                try? await queue.finishCancelled(job, worker: id)
                logger.notice("job cancelled", metadata: ["job": "\(job.name)"])
                return
            }
            let message = (error as? DomainError)?.message ?? "\(error)"
            let code = (error as? DomainError).map { Self.codeName($0.code) } ?? "INTERNAL"
            // Bad input and unmet preconditions (too little data, a file over its limit) fail the same way every time.
            let permanent = (error as? DomainError).map { $0.code == .failedPrecondition || $0.code == .invalidArgument } ?? false
            let state = try? await queue.fail(job, worker: id, code: code, message: message, retryable: !permanent)
            await handler.failed(job, message: message)
            logger.warning("job attempt failed", metadata: [
                "job": "\(job.name)", "attempt": "\(job.attempt)", "now": "\(state.map(\.rawValue) ?? "lost")", "error": "\(String(reflecting: error))",
            ])
        }
    }
}
