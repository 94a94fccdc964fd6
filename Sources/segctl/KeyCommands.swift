import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage API keys of your tenant (permission keys.manage).",
            discussion: """
                Commands act on the tenant of the key they use. --platform uses the platform key from \
                segctl.json (when no key is given), so they manage the platform tenant's keys \
                (role platform_admin); its last working platform_admin key cannot be revoked.
                """,
            subcommands: [Create.self, List.self, Get.self, Revoke.self, Roll.self])

        /// `--platform`: the platform operator's key from segctl.json, as `segctl tenants` uses.
        struct Scope: ParsableArguments {
            @Flag(name: .customLong("platform"), help: "Manage the platform tenant's keys with the platform key from segctl.json.")
            var platform = false
        }

        static func render(_ keys: [Segmentd_V1_ApiKey], json: Bool) throws {
            if json { return try printJSON(keys) }
            printTable(
                ["KEY", "NAME", "PREFIX", "ROLES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"],
                keys.map {
                    [
                        shortID($0.name), $0.displayName, $0.displayPrefix, $0.roles.joined(separator: ","), show($0.createTime),
                        show($0.lastUsedTime, set: $0.hasLastUsedTime), show($0.expireTime, set: $0.hasExpireTime),
                        show($0.revokeTime, set: $0.hasRevokeTime),
                    ]
                })
        }

        static func printSecret(_ response: Segmentd_V1_CreateApiKeyResponse, json: Bool) throws {
            if json { return try printJSON(response) }
            try render([response.apiKey], json: false)
            print("")
            print("secret (shown only now; store it safely, e.g. in SEGMENTD_API_KEY):")
            print(response.secret)
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var scope: Scope
            @Argument(help: "A name for the key, such as checkout-service.") var name: String
            @Option(name: .customLong("role"), help: "A role the key holds (repeat for several; see 'segctl roles list').")
            var roles: [String] = []
            @Option(name: .customLong("expires"), help: "When it stops working: a duration (30d, 12h) or an RFC 3339 time.")
            var expires: String?

            func validate() throws {
                if roles.isEmpty { throw ValidationError("give at least one --role") }
                if let expires, parseTime(expires) == nil { throw ValidationError("--expires: use 30d, 12h, 45m or an RFC 3339 time") }
            }

            func run() async throws {
                try await runCommand {
                    let created = try await connection.withConnection(platform: scope.platform) { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.createApiKey(
                            .with {
                                $0.parent = tenant
                                $0.apiKey.displayName = name
                                $0.apiKey.roles = roles
                                if let expires, let date = parseTime(expires) { $0.apiKey.expireTime = .init(date: date) }
                            }, metadata: client.metadata)
                    }
                    try Keys.printSecret(created, json: connection.json)
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List keys, newest first.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var scope: Scope
            @Flag(name: .customLong("all"), help: "Include revoked and expired keys.") var all = false

            func run() async throws {
                try await runCommand {
                    let keys = try await connection.withConnection(platform: scope.platform) { client in
                        let tenant = try await client.callerTenant()
                        var keys: [Segmentd_V1_ApiKey] = []
                        var token = ""
                        repeat {
                            let page = try await client.access.listApiKeys(
                                .with {
                                    $0.parent = tenant
                                    $0.showRevoked = all
                                    $0.pageToken = token
                                    $0.pageSize = 500
                                },
                                metadata: client.metadata)
                            keys += page.apiKeys
                            token = page.nextPageToken
                        } while !token.isEmpty
                        return keys
                    }
                    try Keys.render(keys, json: connection.json)
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a key (never its secret).")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var scope: Scope
            @Argument(help: "Key id (from 'segctl keys list').") var key: String

            func run() async throws {
                try await runCommand {
                    let found = try await connection.withConnection(platform: scope.platform) { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.getApiKey(.with { $0.name = "\(tenant)/apiKeys/\(key)" }, metadata: client.metadata)
                    }
                    try Keys.render([found], json: connection.json)
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a key now (it stops working within seconds).")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var scope: Scope
            @Argument(help: "Key id.") var key: String

            func run() async throws {
                try await runCommand {
                    let revoked = try await connection.withConnection(platform: scope.platform) { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.revokeApiKey(.with { $0.name = "\(tenant)/apiKeys/\(key)" }, metadata: client.metadata)
                    }
                    try Keys.render([revoked], json: connection.json)
                }
            }
        }

        struct Roll: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Replace a key with a new one; the old one keeps working for the grace period.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var scope: Scope
            @Argument(help: "Key id.") var key: String
            @Option(name: .customLong("grace"), help: "How long the old key keeps working: 0, 30m, 24h, 7d.") var grace = "24h"

            func validate() throws {
                if parseDuration(grace) == nil { throw ValidationError("--grace: use 0, 30m, 24h or 7d") }
            }

            func run() async throws {
                try await runCommand {
                    let (rolled, ownKeyTenant) = try await connection.withConnection(platform: scope.platform) { client in
                        let caller = try await client.access.getCallerIdentity(.init(), metadata: client.metadata)
                        let name = "\(caller.tenant)/apiKeys/\(key)"
                        let rolled = try await client.access.rollApiKey(
                            .with {
                                $0.name = name
                                $0.gracePeriod.seconds = parseDuration(grace)?.components.seconds ?? 0
                            }, metadata: client.metadata)
                        return (rolled, caller.apiKey == name ? caller.tenant : nil)
                    }
                    try Keys.printSecret(rolled, json: connection.json)
                    if let ownKeyTenant {
                        // The key this command used is on its way out; wherever it is kept still has it.
                        let field = ownKeyTenant == "tenants/platform" ? "platform_api_key" : "api_key"
                        FileHandle.standardError.write(
                            Data(
                                "segctl: you rolled the key this command used; put the new secret where that one was kept (SEGMENTD_API_KEY, or \(field) in segctl.json)\n"
                                    .utf8))
                    }
                }
            }
        }
    }
}
