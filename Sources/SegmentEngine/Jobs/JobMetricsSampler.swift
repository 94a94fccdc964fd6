import Foundation
import Logging
import Metrics
import SegmentDomain
import SegmentStore
import ServiceLifecycle

/// Samples the job queue into gauges every `interval` (one grouped query across
/// tenants), so an operator can alert on a growing backlog or a stuck queue:
///
/// - `segmentd_jobs{kind,state}`: jobs queued, retrying and running;
/// - `segmentd_jobs_oldest_queued_age_seconds{kind}`: how long the oldest due
///   queued or retrying job has waited (0 when none waits).
///
/// Every kind and state is written on each sample, zeros included, so a drained
/// queue reads 0 rather than keeping its last non-zero value. Failed attempts are
/// counted where they happen, by ``JobWorker`` (`segmentd_job_attempts_failed_total`).
public struct JobMetricsSampler: Service {
    public struct Configuration: Sendable {
        /// How often the queue is sampled; 15 s by default (a typical scrape interval).
        public var interval: Duration = .seconds(15)
        public init() {}
    }

    /// The states the depth gauge reports.
    static let states: [JobState] = [.queued, .retrying, .running]

    let depth: @Sendable () async throws -> [JobQueueDepth]
    let configuration: Configuration
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    let logger: Logger

    /// - Parameters:
    ///   - queue: the queue to sample.
    ///   - now: the wall clock ages are measured with (the queue's clock in tests).
    ///   - clock: the clock the sampling interval sleeps on.
    public init(
        queue: JobQueue, configuration: Configuration = Configuration(), clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.init(depth: { try await queue.depth() }, configuration: configuration, clock: clock, now: now, logger: logger)
    }

    init(
        depth: @escaping @Sendable () async throws -> [JobQueueDepth], configuration: Configuration, clock: any Clock<Duration>,
        now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.depth = depth
        self.configuration = configuration
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await sample()
            } catch {
                logger.warning("could not sample the job queue", metadata: ["error": "\(String(reflecting: error))"])
            }
            // Sleep, but wake at once for a graceful shutdown.
            let (clock, interval) = (self.clock, configuration.interval)
            try? await cancelWhenGracefulShutdown { try await clock.sleep(for: interval) }
        }
    }

    /// Reads the queue once and records the gauges.
    public func sample() async throws {
        let depths = try await depth()
        for value in Self.values(depths, now: now()) {
            Gauge(label: value.label, dimensions: value.dimensions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                .record(value.value)
        }
    }

    /// One gauge value to record.
    struct Value: Equatable {
        var label: String
        var dimensions: [String: String]
        var value: Double
    }

    /// The gauge values for one sample: every kind × state, and every kind's oldest wait, zeros included.
    static func values(_ depths: [JobQueueDepth], now: Date) -> [Value] {
        var values: [Value] = []
        for kind in JobKind.allCases {
            for state in states {
                let count = depths.first { $0.kind == kind && $0.state == state }?.count ?? 0
                values.append(Value(label: "segmentd_jobs", dimensions: ["kind": kind.rawValue, "state": state.rawValue], value: Double(count)))
            }
            let oldest = depths.filter { $0.kind == kind }.compactMap(\.oldestDueAt).min()
            let age = oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0
            values.append(Value(label: "segmentd_jobs_oldest_queued_age_seconds", dimensions: ["kind": kind.rawValue], value: age))
        }
        return values
    }
}
