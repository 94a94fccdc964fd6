import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SegmentDomain
import SegmentServer
import SegmentdApp

@main
struct Segmentd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segmentd",
        abstract: "Segmentd: a multi-tenant audience segmentation server (gRPC over TLS, PostgreSQL).",
        discussion: """
            With no database URL, segmentd runs its own PostgreSQL under its data directory and makes a \
            development CA and TLS certificate there, so one command starts a working server. Every key can \
            also be set in the environment (SEGMENTD_<KEY>) or a JSON config file (--config); flags win, \
            then the environment, then the file.
            """,
        version: SegmentdVersion.current,
        subcommands: [Migrate.self]
    )

    @OptionGroup var options: ConfigurationOptions

    /// Runs the server until SIGINT or SIGTERM.
    func run() async throws {
        let configuration = try Segmentd.loadConfiguration(options)
        let logger = Segmentd.bootstrapLogging(configuration)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(SegmentdMetricsFactory(registry: registry))
        do {
            try await SegmentdApplication(configuration: configuration, registry: registry, logger: logger).run()
        } catch {
            logger.critical("segmentd stopped: \(Segmentd.describe(error))")
            throw ExitCode(1)
        }
    }
}

extension Segmentd {
    /// Applies pending migrations and exits.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let configuration = try Segmentd.loadConfiguration(options)
            let logger = Segmentd.bootstrapLogging(configuration)
            do {
                let applied = try await SegmentdApplication.migrate(configuration, logger: logger)
                logger.notice(applied.isEmpty ? "the schema is up to date" : "applied migrations \(applied)")
            } catch {
                logger.critical("migration failed: \(Segmentd.describe(error))")
                throw ExitCode(1)
            }
        }
    }

    static func loadConfiguration(_ options: ConfigurationOptions) throws -> SegmentdConfiguration {
        do {
            return try SegmentdConfiguration.resolve(
                flags: options.flags, configFile: options.config, environment: ProcessInfo.processInfo.environment)
        } catch let error as SegmentdConfiguration.Invalid {
            throw ValidationError(error.description)
        }
    }

    static func bootstrapLogging(_ configuration: SegmentdConfiguration) -> Logger {
        let level = configuration.logLevel
        if configuration.logFormat == "json" {
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        return Logger(label: "segmentd")
    }

    /// A one-line description for operators; store errors carry their safe message.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as DomainError:
            if let cause = error.cause { return "\(error.message) (\(String(reflecting: cause)))" }
            return error.message
        default:
            return String(describing: error)
        }
    }
}
