import Foundation
import Logging
import SegmentDomain
import SegmentEngine
import SegmentServer
import SegmentStore
import SegmentdClient
import ServiceLifecycle

/// Brings the server to SERVING once the database is usable: checks the server
/// role cannot bypass row-level security, bootstraps the first tenant and keys,
/// writes segctl's client file, then waits for shutdown.
struct StartupService: Service {
    let database: Database
    let useCases: UseCases
    let server: SegmentdServer
    let configuration: SegmentdConfiguration
    let caPath: String?
    let logger: Logger

    func run() async throws {
        try await ServerRoleCheck.verify(database)
        try await useCases.ingestStore.preparePartitions()
        try await useCases.changeLog.preparePartitions()
        let rules = try await useCases.segments.fillMissingRuleForms()
        if rules.filled > 0 {
            logger.notice("saved the AST and restatement of rules saved before they were kept", metadata: ["segments": "\(rules.filled)"])
        }
        if !rules.unreadable.isEmpty { logger.error("stored rules that no longer parse", metadata: ["segments": "\(rules.unreadable)"]) }
        let credentials = try await Bootstrapper(database: database, logger: logger)
            .bootstrapIfNeeded(tenantID: configuration.bootstrapTenant, displayName: "Default tenant")
        let port = try await server.listeningPort
        try writeClientFile(port: port, credentials: credentials)
        server.health.set(.serving)
        logger.notice("ready", metadata: ["health": "SERVING"])
        try await gracefulShutdown()
    }

    /// Writes `<home>/segctl.json`: where to dial and what CA to trust, plus the
    /// bootstrap keys the first time (kept from earlier starts otherwise).
    private func writeClientFile(port: Int, credentials: Bootstrapper.Credentials?) throws {
        let path = configuration.home + "/" + ClientSettings.File.fileName
        var file = (try? ClientSettings.File.read(path)) ?? nil ?? ClientSettings.File(address: "", ca: nil)
        let host = ["0.0.0.0", "::"].contains(configuration.listen.host) ? "127.0.0.1" : configuration.listen.host
        file.address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        file.ca = caPath
        if let credentials {
            file.tenant = credentials.tenantID.rawValue
            file.apiKey = credentials.ownerKey.plaintext
            file.platformApiKey = credentials.platformKey.plaintext
            logger.notice(
                "first start: created tenant '\(credentials.tenantID)' with an owner key and a platform-operator key",
                metadata: ["keys": "\(path) (mode 0600)"])
        }
        try file.write(path)
        logger.notice(
            "segctl on this machine finds the server, CA and key in \(path) (or set SEGMENTD_ADDR, SEGMENTD_CA, SEGMENTD_API_KEY)")
    }
}
