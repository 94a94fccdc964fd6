import Logging
import SegmentDomain
import SegmentStore

/// The owner and server connection settings, and the embedded cluster when
/// segmentd runs its own PostgreSQL.
struct DatabaseEndpoints {
    let owner: DatabaseSettings
    let app: DatabaseSettings
    let embedded: EmbeddedPostgres?

    /// Starts the embedded cluster when no URL is configured.
    static func open(_ configuration: SegmentdConfiguration, logger: Logger) async throws -> DatabaseEndpoints {
        if let url = configuration.databaseURL {
            var app = try DatabaseSettings(url: url)
            app.maximumConnections = configuration.dbPoolSize
            let owner = try DatabaseSettings(url: configuration.migrationDatabaseURL ?? url)
            return DatabaseEndpoints(owner: owner, app: app, embedded: nil)
        }
        var embeddedConfiguration = EmbeddedPostgres.Configuration(
            directory: configuration.home + "/postgres", binDirectory: configuration.postgresBin)
        embeddedConfiguration.database = "segmentd"
        let embedded = EmbeddedPostgres(configuration: embeddedConfiguration, logger: logger)
        try await embedded.start()
        var app = embedded.appSettings
        app.maximumConnections = configuration.dbPoolSize
        return DatabaseEndpoints(owner: embedded.ownerSettings, app: app, embedded: embedded)
    }
}
