import Foundation
import Logging
import SegmentDomain
import SegmentStore

/// A PostgreSQL cluster that segmentd runs itself under its data directory, for
/// the one-command default.
///
/// `initdb` on first start; listens only on a Unix socket in a directory only
/// its user can enter (no TCP port); started before the server and stopped after
/// it. PostgreSQL refuses to run as root, so when segmentd is root the cluster
/// runs as the `postgres` system user.
public struct EmbeddedPostgres: Sendable {
    /// Where the cluster lives and how it runs.
    public struct Configuration: Sendable {
        /// The cluster's directory (data, socket, log). Default: `<home>/postgres`.
        public var directory: String
        /// The directory with `initdb`, `pg_ctl` and `postgres`; found under
        /// /usr/lib/postgresql when nil.
        public var binDirectory: String?
        /// The OS user to run PostgreSQL as when segmentd runs as root.
        public var systemUser: String = "postgres"
        /// The database segmentd uses.
        public var database: String = "segmentd"
        /// The role that owns the schema and runs migrations.
        public var ownerRole: String = "segmentd_owner"
        /// The role the server connects as (no superuser, no BYPASSRLS, owns nothing).
        public var appRole: String = "segmentd_app"

        public init(directory: String, binDirectory: String? = nil) {
            self.directory = directory
            self.binDirectory = binDirectory
        }
    }

    public let configuration: Configuration
    let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    var dataDirectory: String { configuration.directory + "/data" }
    var socketDirectory: String { configuration.directory + "/run" }
    var logFile: String { configuration.directory + "/postgres.log" }
    static let superuser = "postgres"

    /// Connection settings for the owner role (migrations).
    public var ownerSettings: DatabaseSettings {
        .unixSocket(directory: socketDirectory, username: configuration.ownerRole, database: configuration.database)
    }

    /// Connection settings for the server role.
    public var appSettings: DatabaseSettings {
        .unixSocket(directory: socketDirectory, username: configuration.appRole, database: configuration.database)
    }

    var runsAsOtherUser: Bool { geteuid() == 0 }

    /// Initializes the cluster if needed, starts it unless it is already running,
    /// and makes sure the roles and database exist.
    public func start() async throws {
        let bin = try Self.findBinDirectory(configuration.binDirectory)
        let socketPath = socketDirectory + "/.s.PGSQL.5432"
        guard socketPath.utf8.count < 100 else {
            throw DomainError(
                .misconfigured,
                "the data directory path is too long for a Unix socket (\(socketPath.utf8.count) bytes); use a shorter SEGMENTD_HOME")
        }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory)
        if runsAsOtherUser {
            try ProcessRunner.run(["/bin/chown", "-R", "\(configuration.systemUser):", configuration.directory])
            try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: configuration.directory)
            // The postgres user must be able to reach its directory through every parent.
            if ProcessRunner.status(asPostgresUser(["/usr/bin/test", "-w", configuration.directory])) != 0 {
                throw DomainError(
                    .misconfigured,
                    "the \(configuration.systemUser) user cannot reach \(configuration.directory): a parent directory is not searchable; put SEGMENTD_HOME elsewhere (for example under /var/lib)"
                )
            }
        }

        if !fileManager.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            logger.notice("initializing the embedded PostgreSQL", metadata: ["directory": "\(dataDirectory)"])
            try ProcessRunner.run(
                asPostgresUser([
                    bin + "/initdb", "-D", dataDirectory, "-U", Self.superuser, "--auth=trust",
                    "-E", "UTF8", "--no-locale",
                ]))
            let settings = """

                # segmentd: embedded cluster, Unix socket only.
                listen_addresses = ''
                unix_socket_directories = '\(socketDirectory)'
                unix_socket_permissions = 0700
                port = 5432
                max_connections = 200
                shared_buffers = 256MB
                """
            let conf = dataDirectory + "/postgresql.conf"
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(settings.utf8))
            try handle.close()
        }

        if ProcessRunner.status(asPostgresUser([bin + "/pg_ctl", "-D", dataDirectory, "status"])) == 0 {
            logger.info("the embedded PostgreSQL is already running; using it")
        } else {
            try? fileManager.removeItem(atPath: socketPath)
            logger.info("starting the embedded PostgreSQL")
            do {
                try ProcessRunner.run(
                    asPostgresUser([
                        bin + "/pg_ctl", "-D", dataDirectory, "-l", logFile, "-w", "-t", "120", "start",
                    ]))
            } catch let failure as ProcessRunner.Failure {
                let tail =
                    (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(5)
                    .joined(separator: "\n") ?? ""
                throw DomainError(
                    .unavailable, "the embedded PostgreSQL did not start: \(failure.output) \(tail)", cause: failure)
            }
        }
        try await ensureRolesAndDatabase()
    }

    /// Stops the cluster (fast shutdown: running transactions are rolled back).
    public func stop() throws {
        let bin = try Self.findBinDirectory(configuration.binDirectory)
        guard ProcessRunner.status(asPostgresUser([bin + "/pg_ctl", "-D", dataDirectory, "status"])) == 0 else { return }
        logger.info("stopping the embedded PostgreSQL")
        try ProcessRunner.run(asPostgresUser([bin + "/pg_ctl", "-D", dataDirectory, "-m", "fast", "-w", "stop"]))
    }

    private func ensureRolesAndDatabase() async throws {
        let admin = DatabaseSettings.unixSocket(directory: socketDirectory, username: Self.superuser, database: "postgres")
        try await ClusterSetup.prepare(
            admin: admin, owner: configuration.ownerRole, app: configuration.appRole, database: configuration.database, logger: logger)
    }

    private func asPostgresUser(_ command: [String]) -> [String] {
        guard runsAsOtherUser else { return command }
        return ["/usr/sbin/runuser", "-u", configuration.systemUser, "--"] + command
    }

    /// The newest /usr/lib/postgresql/N/bin, or `preferred` when given.
    static func findBinDirectory(_ preferred: String?) throws -> String {
        if let preferred {
            guard FileManager.default.isExecutableFile(atPath: preferred + "/initdb") else {
                throw DomainError(.misconfigured, "no initdb in \(preferred)")
            }
            return preferred
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw DomainError(
            .misconfigured,
            "PostgreSQL is not installed (no \(root)/*/bin/initdb): run ops/run-server, or install the postgresql package, or pass --database-url")
    }
}
