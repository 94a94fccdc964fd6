import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    struct Tenants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage tenants (platform operators; uses the platform key from segctl.json when no key is given).",
            subcommands: [List.self, Get.self, Create.self, Update.self, Disable.self, Enable.self])

        static func render(_ tenants: [Segmentd_V1_Tenant], json: Bool) throws {
            if json { return try printJSON(tenants) }
            printTable(
                ["TENANT", "DISPLAY NAME", "STATE", "TIME ZONE", "CREATED"],
                tenants.map { [shortID($0.name), $0.displayName, $0.state == .active ? "active" : "disabled", $0.timeZone, show($0.createTime)] })
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tenants.")
            @OptionGroup var connection: ConnectionOptions
            @Flag(name: .customLong("all"), help: "Include disabled tenants.") var all = false

            func run() async throws {
                try await runCommand {
                    let tenants = try await connection.withConnection(platform: true) { client in
                        var tenants: [Segmentd_V1_Tenant] = []
                        var token = ""
                        repeat {
                            let page = try await client.tenants.listTenants(
                                .with {
                                    $0.showDisabled = all
                                    $0.pageToken = token
                                    $0.pageSize = 500
                                }, metadata: client.metadata)
                            tenants += page.tenants
                            token = page.nextPageToken
                        } while !token.isEmpty
                        return tenants
                    }
                    try Tenants.render(tenants, json: connection.json)
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a tenant.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tenant id.") var tenant: String

            func run() async throws {
                try await runCommand {
                    let found = try await connection.withConnection(platform: true) { client in
                        try await client.tenants.getTenant(.with { $0.name = "tenants/\(tenant)" }, metadata: client.metadata)
                    }
                    try Tenants.render([found], json: connection.json)
                }
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a tenant and its first owner key (shown once).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tenant id: 2-40 of a-z, 0-9 and '-', starting with a letter.") var tenant: String
            @Option(name: .customLong("display-name"), help: "Human-readable name.") var displayName: String?
            @Option(name: .customLong("time-zone"), help: "IANA time zone for calendar windows (default UTC).") var timeZone: String?

            func run() async throws {
                try await runCommand {
                    let created = try await connection.withConnection(platform: true) { client in
                        try await client.tenants.createTenant(
                            .with {
                                $0.tenantID = tenant
                                $0.tenant.displayName = displayName ?? ""
                                $0.tenant.timeZone = timeZone ?? ""
                            }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(created) }
                    try Tenants.render([created.tenant], json: false)
                    print("")
                    print("owner key for \(created.tenant.name) (shown only now; store it safely):")
                    print(created.ownerKey.secret)
                }
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Rename a tenant or change its time zone.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tenant id.") var tenant: String
            @Option(name: .customLong("display-name"), help: "A human-readable name.") var displayName: String?
            @Option(name: .customLong("time-zone"), help: "IANA time zone for calendar windows (Europe/Istanbul).") var timeZone: String?

            func validate() throws {
                if displayName == nil && timeZone == nil { throw ValidationError("give --display-name and/or --time-zone") }
            }

            func run() async throws {
                try await runCommand {
                    let updated = try await connection.withConnection(platform: true) { client in
                        try await client.tenants.updateTenant(
                            .with {
                                $0.tenant.name = "tenants/\(tenant)"
                                $0.tenant.displayName = displayName ?? ""
                                $0.tenant.timeZone = timeZone ?? ""
                                $0.updateMask.paths = (displayName != nil ? ["display_name"] : []) + (timeZone != nil ? ["time_zone"] : [])
                            }, metadata: client.metadata)
                    }
                    try Tenants.render([updated], json: connection.json)
                }
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable a tenant: its keys stop working within seconds.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tenant id.") var tenant: String

            func run() async throws {
                try await runCommand {
                    let updated = try await connection.withConnection(platform: true) { client in
                        try await client.tenants.disableTenant(.with { $0.name = "tenants/\(tenant)" }, metadata: client.metadata)
                    }
                    try Tenants.render([updated], json: connection.json)
                }
            }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enable a disabled tenant.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tenant id.") var tenant: String

            func run() async throws {
                try await runCommand {
                    let updated = try await connection.withConnection(platform: true) { client in
                        try await client.tenants.enableTenant(.with { $0.name = "tenants/\(tenant)" }, metadata: client.metadata)
                    }
                    try Tenants.render([updated], json: connection.json)
                }
            }
        }
    }
}
