/// Every configuration key segmentd reads, in one list: its flag, environment
/// variable, config-file key, default and meaning. `segmentd --help` and the
/// README are generated from the same words.
///
/// Precedence: flag, then environment, then the config file (`--config`, JSON
/// with the file keys below), then the default.
struct ConfigurationKey: Sendable {
    /// The key in the config file, also the flag without dashes and with `-` for `_`.
    let name: String
    /// What it means.
    let help: String
    /// The default, described for people.
    let defaultDescription: String

    var flag: String { "--" + name.replacingOccurrences(of: "_", with: "-") }
    var environment: String { "SEGMENTD_" + name.uppercased() }

    static let home = ConfigurationKey(
        name: "home", help: "Data directory: embedded PostgreSQL, development TLS files, segctl.json.",
        defaultDescription: "./.segmentd")
    static let listen = ConfigurationKey(
        name: "listen", help: "gRPC (TLS) address to bind, IP:port. Port 0 picks a free port.",
        defaultDescription: "127.0.0.1:7443")
    static let databaseURL = ConfigurationKey(
        name: "database_url",
        help: "PostgreSQL URL for the server role (no superuser, no BYPASSRLS, owns no table). Unset: embedded PostgreSQL under the data directory.",
        defaultDescription: "embedded")
    static let migrationDatabaseURL = ConfigurationKey(
        name: "migration_database_url", help: "PostgreSQL URL for the owner role that runs migrations.",
        defaultDescription: "embedded, or the database URL")
    static let tlsCert = ConfigurationKey(
        name: "tls_cert", help: "PEM certificate chain for the gRPC port. Unset: a development CA and certificate in <home>/tls.",
        defaultDescription: "development certificate")
    static let tlsKey = ConfigurationKey(
        name: "tls_key", help: "PEM private key for --tls-cert.", defaultDescription: "development key")
    static let tlsHosts = ConfigurationKey(
        name: "tls_hosts", help: "Extra comma-separated host names or IPs for the development certificate.",
        defaultDescription: "localhost, 127.0.0.1, ::1")
    static let metricsListen = ConfigurationKey(
        name: "metrics_listen", help: "Prometheus /metrics HTTP address, IP:port, or 'off'.",
        defaultDescription: "127.0.0.1:9464")
    static let logLevel = ConfigurationKey(
        name: "log_level", help: "trace, debug, info, notice, warning, error or critical.", defaultDescription: "info")
    static let logFormat = ConfigurationKey(
        name: "log_format", help: "text or json (one object per line).", defaultDescription: "text")
    static let dbPoolSize = ConfigurationKey(
        name: "db_pool_size", help: "Database connections at most.", defaultDescription: "20")
    static let authCacheSeconds = ConfigurationKey(
        name: "auth_cache_seconds",
        help: "How long a resolved API key is cached: the delay before a revoked key or disabled tenant stops working (0-10).",
        defaultDescription: "2")
    static let bootstrapTenant = ConfigurationKey(
        name: "bootstrap_tenant", help: "Id of the tenant created at first start.", defaultDescription: "default")
    static let postgresBin = ConfigurationKey(
        name: "postgres_bin", help: "Directory with initdb and pg_ctl for the embedded database.",
        defaultDescription: "newest /usr/lib/postgresql/*/bin")
    static let shutdownGraceSeconds = ConfigurationKey(
        name: "shutdown_grace_seconds", help: "How long in-flight calls may take to finish on SIGTERM before they are cancelled.",
        defaultDescription: "30")

    static let evaluationTimeoutSeconds = ConfigurationKey(
        name: "evaluation_timeout_seconds",
        help: "How long one rule evaluation (preview, refresh query) may run before it is cancelled with RESOURCE_EXHAUSTED (1-3600).",
        defaultDescription: "30")

    static let jobLeaseSeconds = ConfigurationKey(
        name: "job_lease_seconds",
        help: "How long a worker holds a job without renewing it; a crashed worker's jobs are retried after this (5-3600).",
        defaultDescription: "30")

    static let membershipCacheMembers = ConfigurationKey(
        name: "membership_cache_members",
        help: "Segment members held in memory to answer membership checks, 16 bytes each; 0 turns the cache off (0-1000000000).",
        defaultDescription: "10000000")

    static let all: [ConfigurationKey] = [
        .home, .listen, .databaseURL, .migrationDatabaseURL, .tlsCert, .tlsKey, .tlsHosts, .metricsListen,
        .logLevel, .logFormat, .dbPoolSize, .authCacheSeconds, .bootstrapTenant, .postgresBin, .shutdownGraceSeconds,
        .evaluationTimeoutSeconds, .jobLeaseSeconds, .membershipCacheMembers,
    ]
}
