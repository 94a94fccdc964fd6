import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore

/// A fresh database on the test cluster, owned by the owner role, so each test
/// runs against an empty schema in any order.
public struct TestDatabase: Sendable {
    public static let ownerRole = "segmentd_owner"
    public static let appRole = "segmentd_app"

    /// The database name.
    public let name: String
    /// Settings for the owner role (migrations).
    public let owner: DatabaseSettings
    /// Settings for the server role.
    public let app: DatabaseSettings
    /// Settings for the cluster's superuser, for inspection and sabotage.
    public let superuser: DatabaseSettings

    /// Creates an empty database (and the two roles, once per cluster).
    public static func create(logger: Logger = Logger(label: "test.db")) async throws -> TestDatabase {
        let socket = try TestEnvironment.postgresSocketDirectory
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let admin = DatabaseSettings.unixSocket(
            directory: socket, username: TestEnvironment.postgresSuperuser, database: "postgres")
        try await admin.withSingleConnection(logger: logger) { connection in
            try await ClusterSetup.ensureRoles(owner: ownerRole, app: appRole, on: connection)
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) OWNER \(ownerRole)"), logger: logger)
        }
        return TestDatabase(
            name: name,
            owner: .unixSocket(directory: socket, username: ownerRole, database: name),
            app: .unixSocket(directory: socket, username: appRole, database: name),
            superuser: .unixSocket(directory: socket, username: TestEnvironment.postgresSuperuser, database: name))
    }

    /// `postgres://` URL of `settings`, for passing to a segmentd process.
    public static func url(_ settings: DatabaseSettings) -> String {
        "postgres://\(settings.username)@/\(settings.database)?host=\(settings.socketDirectory ?? "")"
    }
}
