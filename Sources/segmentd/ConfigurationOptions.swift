import ArgumentParser
import SegmentdApp

/// The command-line flags for every ``ConfigurationKey``.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "JSON config file with the keys below (env SEGMENTD_CONFIG).")
    var config: String?

    @Option(name: .customLong("home"), help: help(.home)) var home: String?
    @Option(name: .customLong("listen"), help: help(.listen)) var listen: String?
    @Option(name: .customLong("database-url"), help: help(.databaseURL)) var databaseURL: String?
    @Option(name: .customLong("migration-database-url"), help: help(.migrationDatabaseURL)) var migrationDatabaseURL: String?
    @Option(name: .customLong("tls-cert"), help: help(.tlsCert)) var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: help(.tlsKey)) var tlsKey: String?
    @Option(name: .customLong("tls-hosts"), help: help(.tlsHosts)) var tlsHosts: String?
    @Option(name: .customLong("metrics-listen"), help: help(.metricsListen)) var metricsListen: String?
    @Option(name: .customLong("log-level"), help: help(.logLevel)) var logLevel: String?
    @Option(name: .customLong("log-format"), help: help(.logFormat)) var logFormat: String?
    @Option(name: .customLong("db-pool-size"), help: help(.dbPoolSize)) var dbPoolSize: String?
    @Option(name: .customLong("auth-cache-seconds"), help: help(.authCacheSeconds)) var authCacheSeconds: String?
    @Option(name: .customLong("bootstrap-tenant"), help: help(.bootstrapTenant)) var bootstrapTenant: String?
    @Option(name: .customLong("postgres-bin"), help: help(.postgresBin)) var postgresBin: String?
    @Option(name: .customLong("shutdown-grace-seconds"), help: help(.shutdownGraceSeconds)) var shutdownGraceSeconds: String?
    @Option(name: .customLong("evaluation-timeout-seconds"), help: help(.evaluationTimeoutSeconds)) var evaluationTimeoutSeconds: String?
    @Option(name: .customLong("job-lease-seconds"), help: help(.jobLeaseSeconds)) var jobLeaseSeconds: String?
    @Option(name: .customLong("membership-cache-members"), help: help(.membershipCacheMembers)) var membershipCacheMembers: String?
    @Option(name: .customLong("pull-allowed-networks"), help: help(.pullAllowedNetworks)) var pullAllowedNetworks: String?
    @Option(name: .customLong("rate-limit-per-key"), help: help(.rateLimitPerKey)) var rateLimitPerKey: String?
    @Option(name: .customLong("tenant-job-concurrency"), help: help(.tenantJobConcurrency)) var tenantJobConcurrency: String?
    @Option(name: .customLong("export-retention-hours"), help: help(.exportRetentionHours)) var exportRetentionHours: String?
    @Option(name: .customLong("engine-memory-mb"), help: help(.engineMemoryMB)) var engineMemoryMB: String?
    @Option(name: .customLong("realtime-lease-seconds"), help: help(.realtimeLeaseSeconds)) var realtimeLeaseSeconds: String?
    @Option(name: .customLong("tenant-max-segments"), help: help(.tenantMaxSegments)) var tenantMaxSegments: String?
    @Option(name: .customLong("tenant-max-pending-jobs"), help: help(.tenantMaxPendingJobs)) var tenantMaxPendingJobs: String?
    @Option(name: .customLong("tenant-max-export-bytes"), help: help(.tenantMaxExportBytes)) var tenantMaxExportBytes: String?
    @Option(name: .customLong("rate-limit-bad-keys-per-peer"), help: help(.rateLimitBadKeysPerPeer)) var rateLimitBadKeysPerPeer: String?
    @Option(name: .customLong("audit-checkpoint-every"), help: help(.auditCheckpointEvery)) var auditCheckpointEvery: String?
    @Option(name: .customLong("audit-checkpoint-file"), help: help(.auditCheckpointFile)) var auditCheckpointFile: String?
    @Option(name: .customLong("audit-checkpoint-key"), help: help(.auditCheckpointKey)) var auditCheckpointKey: String?

    static func help(_ key: ConfigurationKey) -> ArgumentHelp {
        ArgumentHelp("\(key.help) Env \(key.environment). Default: \(key.defaultDescription).")
    }

    /// The flags given, by config-file key.
    var flags: [String: String] {
        let pairs: [(ConfigurationKey, String?)] = [
            (.home, home), (.listen, listen), (.databaseURL, databaseURL), (.migrationDatabaseURL, migrationDatabaseURL),
            (.tlsCert, tlsCert), (.tlsKey, tlsKey), (.tlsHosts, tlsHosts), (.metricsListen, metricsListen),
            (.logLevel, logLevel), (.logFormat, logFormat), (.dbPoolSize, dbPoolSize),
            (.authCacheSeconds, authCacheSeconds), (.bootstrapTenant, bootstrapTenant), (.postgresBin, postgresBin),
            (.shutdownGraceSeconds, shutdownGraceSeconds), (.evaluationTimeoutSeconds, evaluationTimeoutSeconds),
            (.jobLeaseSeconds, jobLeaseSeconds), (.membershipCacheMembers, membershipCacheMembers),
            (.pullAllowedNetworks, pullAllowedNetworks), (.rateLimitPerKey, rateLimitPerKey),
            (.rateLimitBadKeysPerPeer, rateLimitBadKeysPerPeer), (.tenantJobConcurrency, tenantJobConcurrency),
            (.exportRetentionHours, exportRetentionHours), (.engineMemoryMB, engineMemoryMB),
            (.realtimeLeaseSeconds, realtimeLeaseSeconds), (.tenantMaxSegments, tenantMaxSegments),
            (.tenantMaxPendingJobs, tenantMaxPendingJobs), (.tenantMaxExportBytes, tenantMaxExportBytes),
            (.auditCheckpointEvery, auditCheckpointEvery), (.auditCheckpointFile, auditCheckpointFile),
            (.auditCheckpointKey, auditCheckpointKey),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key.name, $0) } })
    }
}
