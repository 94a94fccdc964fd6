/// Every configuration key segmentd reads, in one list: its flag, environment
/// variable, config-file key, default and meaning. `segmentd --help` and the
/// README are generated from the same words.
///
/// Precedence: flag, then environment, then the config file (`--config`, JSON
/// with the file keys below), then the default.
public struct ConfigurationKey: Sendable {
    /// The key in the config file, also the flag without dashes and with `-` for `_`.
    public let name: String
    /// What it means.
    public let help: String
    /// The default, described for people.
    public let defaultDescription: String

    public var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
    public var environment: String { "SEGMENTD_" + name.uppercased() }
    /// Whether values are secret (database URLs carry passwords): never logged by the configuration reader.
    var isSecret: Bool { Self.secretNames.contains(name) }
    static let secretNames: Set<String> = ["database_url", "migration_database_url"]

    public static let home = ConfigurationKey(
        name: "home", help: "Data directory: embedded PostgreSQL, development TLS files, segctl.json.",
        defaultDescription: "./.segmentd")
    public static let listen = ConfigurationKey(
        name: "listen", help: "gRPC (TLS) address to bind, IP:port. Port 0 picks a free port.",
        defaultDescription: "127.0.0.1:7443")
    public static let databaseURL = ConfigurationKey(
        name: "database_url",
        help: "PostgreSQL URL for the server role (no superuser, no BYPASSRLS, owns no table). Unset: embedded PostgreSQL under the data directory.",
        defaultDescription: "embedded")
    public static let migrationDatabaseURL = ConfigurationKey(
        name: "migration_database_url", help: "PostgreSQL URL for the owner role that runs migrations.",
        defaultDescription: "embedded, or the database URL")
    public static let tlsCert = ConfigurationKey(
        name: "tls_cert", help: "PEM certificate chain for the gRPC port. Unset: a development CA and certificate in <home>/tls.",
        defaultDescription: "development certificate")
    public static let tlsKey = ConfigurationKey(
        name: "tls_key", help: "PEM private key for --tls-cert.", defaultDescription: "development key")
    public static let tlsHosts = ConfigurationKey(
        name: "tls_hosts", help: "Extra comma-separated host names or IPs for the development certificate.",
        defaultDescription: "localhost, 127.0.0.1, ::1")
    public static let metricsListen = ConfigurationKey(
        name: "metrics_listen", help: "Prometheus /metrics HTTP address, IP:port, or 'off'.",
        defaultDescription: "127.0.0.1:9464")
    public static let logLevel = ConfigurationKey(
        name: "log_level", help: "trace, debug, info, notice, warning, error or critical.", defaultDescription: "info")
    public static let logFormat = ConfigurationKey(
        name: "log_format", help: "text or json (one object per line).", defaultDescription: "text")
    public static let dbPoolSize = ConfigurationKey(
        name: "db_pool_size", help: "Database connections at most.", defaultDescription: "20")
    public static let authCacheSeconds = ConfigurationKey(
        name: "auth_cache_seconds",
        help: "How long a resolved API key is cached: the delay before a revoked key or disabled tenant stops working (0-10).",
        defaultDescription: "2")
    public static let bootstrapTenant = ConfigurationKey(
        name: "bootstrap_tenant", help: "Id of the tenant created at first start.", defaultDescription: "default")
    public static let postgresBin = ConfigurationKey(
        name: "postgres_bin", help: "Directory with initdb and pg_ctl for the embedded database.",
        defaultDescription: "newest /usr/lib/postgresql/*/bin")
    public static let shutdownGraceSeconds = ConfigurationKey(
        name: "shutdown_grace_seconds", help: "How long in-flight calls may take to finish on SIGTERM before they are cancelled.",
        defaultDescription: "30")

    public static let evaluationTimeoutSeconds = ConfigurationKey(
        name: "evaluation_timeout_seconds",
        help: "How long one rule evaluation (preview, refresh query) may run before it is cancelled with RESOURCE_EXHAUSTED (1-3600).",
        defaultDescription: "30")

    public static let jobLeaseSeconds = ConfigurationKey(
        name: "job_lease_seconds",
        help: "How long a worker holds a job without renewing it; a crashed worker's jobs are retried after this (5-3600).",
        defaultDescription: "30")

    public static let membershipCacheMembers = ConfigurationKey(
        name: "membership_cache_members",
        help: "Segment members held in memory to answer membership checks, typically 2-6 bytes each; 0 turns the cache off (0-1000000000).",
        defaultDescription: "10000000")

    public static let pullAllowedNetworks = ConfigurationKey(
        name: "pull_allowed_networks",
        help:
            "Comma-separated networks (CIDR) scheduled pulls may reach although they are not public (loopback, private, link-local, "
            + "unique-local, CGNAT): for on-premise sources. Empty: pulls reach public addresses only.",
        defaultDescription: "empty")

    public static let rateLimitPerKey = ConfigurationKey(
        name: "rate_limit_per_key",
        help:
            "Calls one API key may make a second (bursts of twice that); past it calls fail with RESOURCE_EXHAUSTED and a retry delay. 0: no limit.",
        defaultDescription: "10000")

    public static let rateLimitBadKeysPerPeer = ConfigurationKey(
        name: "rate_limit_bad_keys_per_peer",
        help:
            "Well-formed keys that turn out unknown, revoked or expired one client address may present a second (bursts of twice "
            + "that); each costs a database lookup. Past it, that address's keys not in the cache fail with RESOURCE_EXHAUSTED "
            + "without a lookup; cached keys keep working. 0: no limit.",
        defaultDescription: "20")
    public static let auditCheckpointEvery = ConfigurationKey(
        name: "audit_checkpoint_every",
        help:
            "Sign each tenant's audit chain every this many entries with a key the database does not hold (--audit-checkpoint-key), so a rewrite of history is caught by segctl audit verify --checkpoints; 0 turns it off (0-1000000000).",
        defaultDescription: "1000")
    public static let auditCheckpointFile = ConfigurationKey(
        name: "audit_checkpoint_file",
        help:
            "File the signed audit checkpoints are appended to, one JSON line each (also logged). Keep a copy where the database owner cannot write.",
        defaultDescription: "<home>/audit/checkpoints.jsonl")
    public static let auditCheckpointKey = ConfigurationKey(
        name: "audit_checkpoint_key",
        help: "Ed25519 key that signs audit checkpoints (created 0600 at first start; its public half beside it as .pub).",
        defaultDescription: "<home>/audit/checkpoint-signing.key")

    public static let tenantJobConcurrency = ConfigurationKey(
        name: "tenant_job_concurrency",
        help:
            "Running jobs of each slow kind (export, pull, training) one tenant may have at once, so one tenant cannot hold every "
            + "worker; refreshes are not capped but taken fairly across tenants (1-100).",
        defaultDescription: "1")

    public static let exportRetentionHours = ConfigurationKey(
        name: "export_retention_hours",
        help: "How long export files are kept; then they are deleted and their operation says 'expired' (1-8760).",
        defaultDescription: "24")

    public static let changeRetentionDays = ConfigurationKey(
        name: "change_retention_days",
        help:
            "How long the membership change log keeps each change: watch streams resume, and member streams page, within it (1-3650).",
        defaultDescription: "7")

    public static let engineMemoryMB = ConfigurationKey(
        name: "engine_memory_mb",
        help:
            "Memory the audience engine may hold for tenants' data in memory; refreshes of a loaded tenant evaluate there, "
            + "others (and the tenants idle longest, past the budget) in PostgreSQL. 0 turns the engine off (0-1048576).",
        defaultDescription: "1024")

    public static let realtimeLeaseSeconds = ConfigurationKey(
        name: "realtime_lease_seconds",
        help:
            "How long a replica holds a tenant's real-time segments without renewing its lease; after a crash another replica "
            + "takes them over once it expires (3-3600).",
        defaultDescription: "15")

    public static let tenantMaxSegments = ConfigurationKey(
        name: "tenant_max_segments", help: "Segments one tenant may have (quota; RESOURCE_EXHAUSTED past it).", defaultDescription: "10000")

    public static let tenantMaxPendingJobs = ConfigurationKey(
        name: "tenant_max_pending_jobs", help: "Refreshes, exports, pulls and trainings one tenant may have queued (quota).",
        defaultDescription: "1000")

    public static let tenantMaxExportBytes = ConfigurationKey(
        name: "tenant_max_export_bytes", help: "Bytes of export files one tenant may keep until they expire (quota).",
        defaultDescription: "10737418240 (10 GiB)")

    public static let all: [ConfigurationKey] = [
        .home, .listen, .databaseURL, .migrationDatabaseURL, .tlsCert, .tlsKey, .tlsHosts, .metricsListen,
        .logLevel, .logFormat, .dbPoolSize, .authCacheSeconds, .bootstrapTenant, .postgresBin, .shutdownGraceSeconds,
        .evaluationTimeoutSeconds, .jobLeaseSeconds, .membershipCacheMembers, .pullAllowedNetworks,
        .rateLimitPerKey, .rateLimitBadKeysPerPeer, .tenantJobConcurrency, .exportRetentionHours, .changeRetentionDays, .engineMemoryMB,
        .realtimeLeaseSeconds, .tenantMaxSegments,
        .tenantMaxPendingJobs, .tenantMaxExportBytes, .auditCheckpointEvery, .auditCheckpointFile, .auditCheckpointKey,
    ]
}
