import Configuration
import Foundation
import Logging
import SegmentDomain
import SegmentStore

/// segmentd's validated configuration, read once at startup from flags, the
/// environment and an optional JSON config file (see ``ConfigurationKey``).
public struct SegmentdConfiguration: Sendable {
    /// An address to bind.
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    var home: String
    public var listen: Address
    public var databaseURL: String?
    public var migrationDatabaseURL: String?
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var tlsHosts: [String]
    public var metricsListen: Address?
    public var logLevel: Logger.Level
    public var logFormat: String
    public var dbPoolSize: Int
    public var authCacheTTL: Duration
    public var bootstrapTenant: TenantID
    public var postgresBin: String?
    public var shutdownGrace: Duration
    public var evaluationTimeout: Duration
    public var jobLease: Duration
    public var membershipCacheMembers: Int
    public var pullPolicy: PullAddressPolicy
    public var keyRate: RateLimit?
    public var peerBadKeyRate: RateLimit?
    public var quotas: TenantQuotas
    public var tenantJobConcurrency: Int
    public var exportRetention: Duration
    /// How long the membership change log keeps a change (`change_retention_days`).
    public var changeRetention: Duration
    /// Bytes the audience engine may hold (`engine_memory_mb`); 0: off.
    public var engineMemoryBudget: Int
    /// How long a replica's lease on a tenant's real-time segments lasts without renewal (`realtime_lease_seconds`).
    public var realtimeLease: Duration
    /// Sign each audit chain at every multiple of this sequence number; 0: no checkpoints.
    public var auditCheckpointEvery: Int
    /// Where signed audit checkpoints are appended.
    public var auditCheckpointFile: String
    /// The checkpoint signing key's file.
    public var auditCheckpointKey: String

    /// A configuration problem, reported at startup with the key to fix.
    public struct Invalid: Error, CustomStringConvertible {
        public let key: ConfigurationKey
        public let problem: String
        public var description: String { "invalid \(key.flag) / \(key.environment): \(problem)" }
    }

    /// Resolves every key: `flags[name]` (set on the command line), then
    /// `environment`, then the config file, then the default.
    public static func resolve(
        flags: [String: String], configFile: String?, environment: [String: String]
    ) throws -> SegmentdConfiguration {
        var file: [String: String] = [:]
        let configPath = configFile ?? environment["SEGMENTD_CONFIG"]
        if let configPath, !configPath.isEmpty {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: configPath)) } catch {
                throw Invalid(key: ConfigurationKey(name: "config", help: "", defaultDescription: ""), problem: "cannot read \(configPath)")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw Invalid(key: ConfigurationKey(name: "config", help: "", defaultDescription: ""), problem: "\(configPath) is not a JSON object")
            }
            let known = Set(ConfigurationKey.all.map(\.name))
            for (key, value) in object {
                guard known.contains(key) else {
                    throw Invalid(
                        key: ConfigurationKey(name: "config", help: "", defaultDescription: ""), problem: "unknown key '\(key)' in \(configPath)")
                }
                file[key] = "\(value)"
            }
        }
        let reader = Self.reader(flags: flags, environment: environment, file: file)
        func value(_ key: ConfigurationKey) -> String? {
            reader.string(forKey: ConfigKey([key.name]), isSecret: key.isSecret)
        }
        func address(_ key: ConfigurationKey, _ text: String) throws -> Address {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65535).contains(port)
            else { throw Invalid(key: key, problem: "expected IP:port, got '\(text)'") }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else {
                throw Invalid(key: key, problem: "the host must be an IP address (such as 127.0.0.1 or 0.0.0.0), got '\(host)'")
            }
            return Address(host: host, port: port)
        }
        func integer(_ key: ConfigurationKey, _ text: String?, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text else { return fallback }
            guard let number = Int(text), range.contains(number) else {
                throw Invalid(key: key, problem: "expected a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return number
        }

        let cwd = FileManager.default.currentDirectoryPath
        var home = value(.home) ?? ".segmentd"
        if !home.hasPrefix("/") { home = cwd + "/" + home }
        home = URL(fileURLWithPath: home).standardizedFileURL.path

        let logLevelText = value(.logLevel) ?? "info"
        guard let logLevel = Logger.Level(rawValue: logLevelText) else {
            throw Invalid(key: .logLevel, problem: "unknown level '\(logLevelText)'")
        }
        let logFormat = value(.logFormat) ?? "text"
        guard ["text", "json"].contains(logFormat) else { throw Invalid(key: .logFormat, problem: "expected text or json") }

        let cert = value(.tlsCert)
        let key = value(.tlsKey)
        if (cert == nil) != (key == nil) {
            throw Invalid(key: cert == nil ? .tlsCert : .tlsKey, problem: "set both --tls-cert and --tls-key, or neither")
        }
        for (configKey, path) in [(ConfigurationKey.tlsCert, cert), (.tlsKey, key)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw Invalid(key: configKey, problem: "cannot read \(path)")
            }
        }
        let databaseURL = value(.databaseURL)
        let migrationURL = value(.migrationDatabaseURL) ?? databaseURL
        for (configKey, url) in [(ConfigurationKey.databaseURL, databaseURL), (.migrationDatabaseURL, migrationURL)] {
            if let url {
                do { _ = try DatabaseSettings(url: url) } catch let error as DomainError {
                    throw Invalid(key: configKey, problem: error.message)
                }
            }
        }
        if databaseURL == nil && value(.migrationDatabaseURL) != nil {
            throw Invalid(key: .databaseURL, problem: "--migration-database-url needs --database-url too")
        }
        let tenantText = value(.bootstrapTenant) ?? "default"
        guard let tenant = TenantID(tenantText), tenant != .platform else {
            throw Invalid(
                key: .bootstrapTenant,
                problem: "'\(tenantText)' is not a tenant id (2-40 of a-z, 0-9 and '-', starting with a letter; 'platform' is reserved)")
        }
        let metricsText = value(.metricsListen) ?? "127.0.0.1:9464"
        let pullPolicy: PullAddressPolicy
        do { pullPolicy = try PullAddressPolicy.allowing(value(.pullAllowedNetworks) ?? "") } catch {
            throw Invalid(key: .pullAllowedNetworks, problem: error.message.replacingOccurrences(of: "pull_allowed_networks: ", with: ""))
        }
        /// A path as given, relative ones from the working directory.
        func path(_ key: ConfigurationKey, default fallback: String) -> String {
            let text = value(key) ?? fallback
            return URL(fileURLWithPath: text.hasPrefix("/") ? text : cwd + "/" + text).standardizedFileURL.path
        }

        var quotas = TenantQuotas()
        quotas.maxSegments = try integer(.tenantMaxSegments, value(.tenantMaxSegments), default: 10_000, range: 1...10_000_000)
        quotas.maxPendingJobs = try integer(.tenantMaxPendingJobs, value(.tenantMaxPendingJobs), default: 1_000, range: 1...10_000_000)
        quotas.maxExportBytes = Int64(
            try integer(.tenantMaxExportBytes, value(.tenantMaxExportBytes), default: 10 * 1024 * 1024 * 1024, range: 1...Int(Int64.max)))

        return SegmentdConfiguration(
            home: home,
            listen: try address(.listen, value(.listen) ?? "127.0.0.1:7443"),
            databaseURL: databaseURL,
            migrationDatabaseURL: migrationURL,
            tlsCertificatePath: cert,
            tlsKeyPath: key,
            tlsHosts: (value(.tlsHosts) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty },
            metricsListen: metricsText == "off" ? nil : try address(.metricsListen, metricsText),
            logLevel: logLevel,
            logFormat: logFormat,
            dbPoolSize: try integer(.dbPoolSize, value(.dbPoolSize), default: 20, range: 1...500),
            authCacheTTL: .seconds(try integer(.authCacheSeconds, value(.authCacheSeconds), default: 2, range: 0...10)),
            bootstrapTenant: tenant,
            postgresBin: value(.postgresBin),
            shutdownGrace: .seconds(try integer(.shutdownGraceSeconds, value(.shutdownGraceSeconds), default: 30, range: 0...3600)),
            evaluationTimeout: .seconds(try integer(.evaluationTimeoutSeconds, value(.evaluationTimeoutSeconds), default: 30, range: 1...3600)),
            jobLease: .seconds(try integer(.jobLeaseSeconds, value(.jobLeaseSeconds), default: 30, range: 5...3600)),
            membershipCacheMembers: try integer(
                .membershipCacheMembers, value(.membershipCacheMembers), default: 10_000_000, range: 0...1_000_000_000),
            pullPolicy: pullPolicy,
            keyRate: .perSecond(try integer(.rateLimitPerKey, value(.rateLimitPerKey), default: 10_000, range: 0...1_000_000)),
            peerBadKeyRate: .perSecond(try integer(.rateLimitBadKeysPerPeer, value(.rateLimitBadKeysPerPeer), default: 20, range: 0...100_000)),
            quotas: quotas,
            tenantJobConcurrency: try integer(.tenantJobConcurrency, value(.tenantJobConcurrency), default: 1, range: 1...100),
            exportRetention: .seconds(3600 * (try integer(.exportRetentionHours, value(.exportRetentionHours), default: 24, range: 1...8760))),
            changeRetention: .seconds(86_400 * (try integer(.changeRetentionDays, value(.changeRetentionDays), default: 7, range: 1...3650))),
            engineMemoryBudget: (try integer(.engineMemoryMB, value(.engineMemoryMB), default: 1024, range: 0...1_048_576)) << 20,
            realtimeLease: .seconds(try integer(.realtimeLeaseSeconds, value(.realtimeLeaseSeconds), default: 15, range: 3...3600)),
            auditCheckpointEvery: try integer(
                .auditCheckpointEvery, value(.auditCheckpointEvery), default: 1000, range: 0...1_000_000_000),
            auditCheckpointFile: path(.auditCheckpointFile, default: home + "/audit/checkpoints.jsonl"),
            auditCheckpointKey: path(.auditCheckpointKey, default: home + "/audit/checkpoint-signing.key")
        )
    }

    /// The three sources in precedence order, as swift-configuration providers: the
    /// flags given, then `SEGMENTD_<KEY>` variables, then the config file's keys.
    /// Values are kept as strings (a JSON number in the file reads as its text), and
    /// an empty value counts as unset at every level.
    static func reader(flags: [String: String], environment: [String: String], file: [String: String]) -> ConfigReader {
        func strings(_ name: String, _ values: [String: String]) -> InMemoryProvider {
            var configValues: [AbsoluteConfigKey: ConfigValue] = [:]
            for (key, value) in values where !value.isEmpty {
                configValues[AbsoluteConfigKey([key])] = ConfigValue(.string(value), isSecret: ConfigurationKey.secretNames.contains(key))
            }
            return InMemoryProvider(name: name, values: configValues)
        }
        return ConfigReader(providers: [
            strings("flags", flags),
            EnvironmentVariablesProvider(
                environmentVariables: environment.filter { !$0.value.isEmpty },
                secretsSpecifier: .specific(Set(ConfigurationKey.secretNames.map { "SEGMENTD_" + $0.uppercased() }))
            ).prefixKeys(with: "segmentd"),
            strings("config file", file),
        ])
    }

    /// True when segmentd runs its own PostgreSQL.
    public var usesEmbeddedDatabase: Bool { databaseURL == nil }
}
