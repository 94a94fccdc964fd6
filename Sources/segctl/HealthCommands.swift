import ArgumentParser
import GRPCCore
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the server is up and serving (no API key needed).")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await runCommand {
                let settings = try connection.settings()
                let response = try await SegmentdConnection.with(settings) { connection in
                    try await connection.health.check(.init())
                }
                let status: String
                switch response.status {
                case .serving: status = "SERVING"
                case .notServing: status = "NOT_SERVING"
                case .serviceUnknown: status = "SERVICE_UNKNOWN"
                default: status = "UNKNOWN"
                }
                if connection.json {
                    printJSON(["address": settings.address, "status": status])
                } else {
                    print("\(settings.address): \(status)")
                }
                if response.status != .serving { throw ExitCode(2) }
            }
        }
    }

    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "whoami", abstract: "Show the tenant, key and roles the server sees for your API key.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            try await runCommand {
                let settings = try connection.settings()
                guard settings.apiKey != nil else {
                    throw ClientError(
                        .invalidSettings,
                        "no API key: set SEGMENTD_API_KEY or --api-key (on the server's machine, segctl reads it from the data directory's segctl.json)"
                    )
                }
                let identity = try await SegmentdConnection.with(settings) { connection in
                    try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
                }
                if connection.json {
                    printJSON([
                        "tenant": identity.tenant, "api_key": identity.apiKey,
                        "api_key_display_name": identity.apiKeyDisplayName, "api_key_prefix": identity.apiKeyPrefix,
                        "roles": identity.roles, "permissions": identity.permissions,
                        "server_version": identity.serverVersion,
                    ])
                } else {
                    print("tenant:  \(identity.tenant)")
                    print("key:     \(identity.apiKeyDisplayName) (\(identity.apiKeyPrefix)…) \(identity.apiKey)")
                    print("roles:   \(identity.roles.joined(separator: ", "))")
                    print("can:     \(identity.permissions.joined(separator: ", "))")
                    print("server:  \(settings.address), segmentd \(identity.serverVersion)")
                }
            }
        }
    }

    struct Version: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show segctl's version, and the server's when reachable.")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var server: String?
            if let settings = try? connection.settings(), settings.apiKey != nil {
                server = try? await SegmentdConnection.with(settings) { connection in
                    try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata).serverVersion
                }
            }
            if connection.json {
                var object: [String: Any] = ["segctl": ClientVersion.current]
                if let server { object["segmentd"] = server }
                printJSON(object)
            } else {
                print("segctl \(ClientVersion.current)")
                print("segmentd \(server ?? "(not reachable)")")
            }
        }
    }
}
