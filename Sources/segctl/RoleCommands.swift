import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List roles and manage custom roles (permission roles.manage).",
            subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Permissions.self])

        static func render(_ roles: [Segmentd_V1_Role], json: Bool) throws {
            if json { return try printJSON(roles) }
            printTable(
                ["ROLE", "KIND", "DISPLAY NAME", "PERMISSIONS"],
                roles.map { [shortID($0.name), $0.builtIn ? "built-in" : "custom", $0.displayName, $0.permissions.joined(separator: ", ")] })
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List built-in and custom roles.")
            @OptionGroup var connection: ConnectionOptions

            func run() async throws {
                try await runCommand {
                    let roles = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        var roles: [Segmentd_V1_Role] = []
                        var token = ""
                        repeat {
                            let page = try await client.access.listRoles(
                                .with {
                                    $0.parent = tenant
                                    $0.pageToken = token
                                    $0.pageSize = 500
                                }, metadata: client.metadata)
                            roles += page.roles
                            token = page.nextPageToken
                        } while !token.isEmpty
                        return roles
                    }
                    try Roles.render(roles, json: connection.json)
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a role.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Role id.") var role: String

            func run() async throws {
                try await runCommand {
                    let found = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.getRole(.with { $0.name = "\(tenant)/roles/\(role)" }, metadata: client.metadata)
                    }
                    try Roles.render([found], json: connection.json)
                }
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a custom role from permissions.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Role id: 2-40 of a-z, 0-9 and '_'.") var role: String
            @Option(name: .customLong("permission"), help: "A permission (repeat; see 'segctl roles permissions').")
            var permissions: [String] = []
            @Option(name: .customLong("display-name"), help: "A human-readable name.") var displayName: String?
            @Option(name: .customLong("description"), help: "What the role is for.") var description: String?

            func validate() throws {
                if permissions.isEmpty { throw ValidationError("give at least one --permission") }
            }

            func run() async throws {
                try await runCommand {
                    let created = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.createRole(
                            .with {
                                $0.parent = tenant
                                $0.roleID = role
                                $0.role.displayName = displayName ?? ""
                                $0.role.description_p = description ?? ""
                                $0.role.permissions = permissions
                            }, metadata: client.metadata)
                    }
                    try Roles.render([created], json: connection.json)
                }
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a custom role.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Role id.") var role: String
            @Option(name: .customLong("permission"), help: "The role's new permissions (repeat; replaces them all).")
            var permissions: [String] = []
            @Option(name: .customLong("display-name"), help: "A human-readable name.") var displayName: String?
            @Option(name: .customLong("description"), help: "What the role is for.") var description: String?

            func validate() throws {
                if permissions.isEmpty && displayName == nil && description == nil {
                    throw ValidationError("give --permission, --display-name and/or --description")
                }
            }

            func run() async throws {
                try await runCommand {
                    let updated = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.access.updateRole(
                            .with {
                                $0.role.name = "\(tenant)/roles/\(role)"
                                $0.role.displayName = displayName ?? ""
                                $0.role.description_p = description ?? ""
                                $0.role.permissions = permissions
                                $0.updateMask.paths =
                                    (permissions.isEmpty ? [] : ["permissions"])
                                    + (displayName == nil ? [] : ["display_name"]) + (description == nil ? [] : ["description"])
                            }, metadata: client.metadata)
                    }
                    try Roles.render([updated], json: connection.json)
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a custom role that no working key holds.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Role id.") var role: String

            func run() async throws {
                try await runCommand {
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        _ = try await client.access.deleteRole(.with { $0.name = "\(tenant)/roles/\(role)" }, metadata: client.metadata)
                    }
                    if connection.json { printJSON(["deleted": role]) } else { print("deleted role \(role)") }
                }
            }
        }

        struct Permissions: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List every permission and what it allows.")
            @OptionGroup var connection: ConnectionOptions

            func run() async throws {
                try await runCommand {
                    let response = try await connection.withConnection { client in
                        try await client.access.listPermissions(.init(), metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(response.permissions) }
                    printTable(["PERMISSION", "ALLOWS"], response.permissions.map { [$0.name, $0.description_p] })
                }
            }
        }
    }
}
