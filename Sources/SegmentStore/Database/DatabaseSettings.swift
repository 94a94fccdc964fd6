import Foundation
import NIOSSL
import PostgresNIO
import SegmentDomain

/// Where and how to connect to PostgreSQL.
///
/// Parsed from a URL: `postgres://user:password@host:5432/db?sslmode=require`, or
/// for a Unix socket `postgres://user@/db?host=/path/to/socket/dir`.
public struct DatabaseSettings: Sendable, Equatable {
    /// How the connection is encrypted.
    public enum TLSMode: String, Sendable, Equatable {
        /// No TLS (Unix sockets, local development).
        case disable
        /// TLS when the server offers it, without certificate verification.
        case prefer
        /// TLS, without certificate verification.
        case require
        /// TLS with the certificate and host name verified.
        case verifyFull = "verify-full"
    }

    /// Host name, or nil for a Unix socket.
    public var host: String?
    /// TCP port, also the socket file's suffix.
    public var port: Int
    /// Directory holding the Unix socket when `host` is nil.
    public var socketDirectory: String?
    /// The role to log in as.
    public var username: String
    /// The role's password, if any.
    public var password: String?
    /// The database name.
    public var database: String
    /// TLS mode for TCP connections.
    public var tls: TLSMode
    /// Connections in the pool at most.
    public var maximumConnections: Int

    public init(
        host: String?, port: Int = 5432, socketDirectory: String? = nil, username: String,
        password: String? = nil, database: String, tls: TLSMode = .disable, maximumConnections: Int = 20
    ) {
        self.host = host
        self.port = port
        self.socketDirectory = socketDirectory
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.maximumConnections = maximumConnections
    }

    /// Settings for a Unix socket in `directory`.
    public static func unixSocket(directory: String, port: Int = 5432, username: String, database: String) -> Self {
        Self(host: nil, port: port, socketDirectory: directory, username: username, database: database)
    }

    /// Parses a `postgres://` or `postgresql://` URL.
    public init(url: String) throws {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw DomainError(.invalidArgument, "a database URL starts with postgres:// (got \(Self.redacted(url)))")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let user = components.user?.removingPercentEncoding ?? query["user"]
        guard let user, !user.isEmpty else {
            throw DomainError(.invalidArgument, "the database URL names no user")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw DomainError(.invalidArgument, "the database URL names no database")
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        let socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        guard host != nil || socketDirectory != nil else {
            throw DomainError(.invalidArgument, "the database URL names no host (or ?host=/socket/dir)")
        }
        let tls: TLSMode
        if let mode = query["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw DomainError(.invalidArgument, "sslmode must be disable, prefer, require or verify-full")
            }
            tls = parsed
        } else {
            tls = host == nil ? .disable : .prefer
        }
        self.init(
            host: host, port: components.port ?? 5432, socketDirectory: host == nil ? socketDirectory : nil,
            username: user, password: components.password?.removingPercentEncoding, database: database, tls: tls)
    }

    /// The URL with any password replaced, safe for logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparseable>" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "<unparseable>"
    }

    /// The PostgresNIO client configuration for these settings.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let host {
            let tlsConfiguration: PostgresClient.Configuration.TLS
            switch tls {
            case .disable:
                tlsConfiguration = .disable
            case .prefer, .require:
                var config = TLSConfiguration.makeClientConfiguration()
                config.certificateVerification = .none
                tlsConfiguration = tls == .prefer ? .prefer(config) : .require(config)
            case .verifyFull:
                tlsConfiguration = .require(.makeClientConfiguration())
            }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: tlsConfiguration)
        } else {
            configuration = .init(
                unixSocketPath: "\(socketDirectory ?? "/var/run/postgresql")/.s.PGSQL.\(port)",
                username: username, password: password, database: database)
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        return configuration
    }
}
