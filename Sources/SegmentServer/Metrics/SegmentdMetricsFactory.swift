import CoreMetrics
import Prometheus

/// The swift-metrics factory segmentd bootstraps: `PrometheusMetricsFactory`'s
/// behaviour, plus a `# HELP` line for every metric family.
///
/// swift-prometheus's own factory registers every metric with empty help, and
/// its registry refuses a second registration of a name with different help,
/// so help cannot be added up front beside it. This factory looks each name up
/// in ``help`` instead and makes the metric on the registry with that text.
///
/// ```swift
/// let registry = PrometheusCollectorRegistry()
/// MetricsSystem.bootstrap(SegmentdMetricsFactory(registry: registry))
/// ```
public struct SegmentdMetricsFactory: Sendable {
    /// One line of help per metric segmentd exports, by name. A metric missing
    /// here is exported without `# HELP` (the metrics test fails on it).
    public static let help: [String: String] = [
        "segmentd_rpc_requests_total": "gRPC calls by method and final status code (standard gRPC code names).",
        "segmentd_rpc_duration_seconds": "gRPC call latency by method, until the response stream ends.",
        "segmentd_auth_rejections_total": "Calls refused before reaching a service, by reason.",
        "segmentd_db_connections_in_use": "PostgreSQL connections of the application pool in use now.",
        "segmentd_db_connections_max": "The application pool's maximum number of PostgreSQL connections.",
        "segmentd_db_connection_wait_seconds": "Time spent waiting for a PostgreSQL connection from the pool.",
        "segmentd_membership_cache_hits_total": "Membership checks answered from the in-memory member-set cache.",
        "segmentd_membership_cache_misses_total": "Membership checks that had to load a member set from PostgreSQL.",
        "segmentd_membership_cache_members": "Members held in the in-memory member-set cache.",
        "segmentd_jobs": "Jobs by kind and state (queued, retrying, running), across tenants, sampled periodically.",
        "segmentd_jobs_oldest_queued_age_seconds":
            "Seconds the oldest due queued or retrying job of a kind has waited to be claimed (0 when none), sampled periodically.",
        "segmentd_engine_tenants_loaded": "Tenants whose audience the engine holds in memory.",
        "segmentd_engine_bytes_held": "Bytes the engine's loaded audiences hold (the engine_memory_mb budget's measure).",
        "segmentd_engine_load_seconds": "Time to load a tenant's audience from PostgreSQL into memory.",
        "segmentd_engine_loads_total": "Audience loads by outcome (loaded, failed, over_budget).",
        "segmentd_engine_catch_ups_total":
            "Audience catch-ups by outcome (applied, unchanged, reload, failed): changes committed since a state's snapshot, applied to it.",
        "segmentd_engine_catch_up_seconds":
            "Time of one audience catch-up (what changed since a state's snapshot, read and applied): real-time cycles wait on it.",
        "segmentd_refreshes_total": "Rule refreshes by where the rule was evaluated (engine in memory, or sql).",
        "segmentd_realtime_tenants_owned": "Tenants whose real-time segments this replica keeps (it holds their lease).",
        "segmentd_realtime_cycle_seconds":
            "Time of one real-time cycle of a tenant: segments evaluated whole, users at window edges, users ingest touched, and their writes.",
        "segmentd_realtime_cycle_phase_seconds":
            "Time spent in each part of a real-time cycle (audience_wait: for a catch-up; state, members, whole, deadline_facts, deadlines, write, touched).",
        "segmentd_realtime_changes_total": "Real-time membership changes written, by change (entered, exited).",
        "segmentd_realtime_restarts_total":
            "Times a tenant's real-time state was dropped and read again (a segment written by someone else meanwhile, or a failed read).",
        "segmentd_realtime_reconciled_total":
            "Membership changes a refresh of a real-time segment made (a full evaluation that disagreed with real time; should stay 0).",
        "segmentd_job_attempts_failed_total":
            "Failed job attempts by kind and the job's state after the failure (retrying, or failed when no attempt is left).",
    ]

    /// The registry the metrics are made on, and served from.
    public let registry: PrometheusCollectorRegistry
    let durationBuckets: [Duration]
    let valueBuckets: [Double]

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        // The same default buckets as swift-prometheus's own factory.
        let defaults = PrometheusMetricsFactory(registry: registry)
        self.durationBuckets = defaults.defaultDurationHistogramBuckets
        self.valueBuckets = defaults.defaultValueHistogramBuckets
    }

    func help(_ label: String) -> String { Self.help[label] ?? "" }
}

extension SegmentdMetricsFactory: MetricsFactory {
    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: help(label))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: help(label)) }
        return registry.makeValueHistogram(name: label, labels: dimensions, buckets: valueBuckets, help: help(label))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: help(label))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(name: label, labels: dimensions, buckets: durationBuckets, help: help(label))
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        switch handler {
        case let gauge as Prometheus.Gauge: registry.unregisterGauge(gauge)
        case let histogram as Histogram<Double>: registry.unregisterValueHistogram(histogram)
        default: break
        }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
