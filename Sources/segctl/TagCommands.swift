import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Tags: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage static tags and who has them (tags.read, tags.write).",
            subcommands: [List.self, Create.self, Rename.self, Delete.self, Assign.self, Unassign.self, Members.self])

        static func render(_ tags: [Segmentd_V1_Tag], json: Bool) throws {
            if json { return try printJSON(tags) }
            printTable(
                ["TAG", "DISPLAY NAME", "USERS", "CREATED"],
                tags.map { [shortID($0.name), $0.displayName, String($0.userCount), show($0.createTime)] })
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tags with their user counts.")
            @OptionGroup var connection: ConnectionOptions
            func run() async throws {
                try await runCommand {
                    let tags = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        var tags: [Segmentd_V1_Tag] = []
                        var token = ""
                        repeat {
                            let page = try await client.tags.listTags(
                                .with {
                                    $0.parent = tenant
                                    $0.pageToken = token
                                    $0.pageSize = 1000
                                }, metadata: client.metadata)
                            tags += page.tags
                            token = page.nextPageToken
                        } while !token.isEmpty
                        return tags
                    }
                    try Tags.render(tags, json: connection.json)
                }
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a tag.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Tag id: 1-64 of a-z, 0-9 and _.") var tag: String
            @Option(name: .customLong("display-name"), help: "A human-readable name.") var displayName: String?
            @Option(name: .customLong("description"), help: "What the tag means.") var description: String?
            func run() async throws {
                try await runCommand {
                    let created = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.tags.createTag(
                            .with {
                                $0.parent = tenant
                                $0.tagID = tag
                                $0.tag.displayName = displayName ?? ""
                                $0.tag.description_p = description ?? ""
                            },
                            metadata: client.metadata)
                    }
                    try Tags.render([created], json: connection.json)
                }
            }
        }

        struct Rename: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a tag's id; its users keep it.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The tag id (vip).") var tag: String
            @Argument(help: "The new id.") var newTag: String
            func run() async throws {
                try await runCommand {
                    let renamed = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.tags.renameTag(
                            .with {
                                $0.name = "\(tenant)/tags/\(tag)"
                                $0.newTagID = newTag
                            }, metadata: client.metadata)
                    }
                    try Tags.render([renamed], json: connection.json)
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a tag and its assignments.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The tag id (vip).") var tag: String
            func run() async throws {
                try await runCommand {
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        _ = try await client.tags.deleteTag(.with { $0.name = "\(tenant)/tags/\(tag)" }, metadata: client.metadata)
                    }
                    if connection.json { printJSON(["deleted": tag]) } else { print("deleted tag \(tag)") }
                }
            }
        }

        /// Reads user ids from arguments, or one per line from a file (`-` for standard input).
        struct UserList: ParsableArguments {
            @Option(name: .customLong("users"), help: "A file of user ids, one per line ('-' reads standard input).") var usersFile: String?
            @Argument(help: "User ids.") var users: [String] = []

            func load() throws -> [String] {
                var ids = users
                if let usersFile {
                    let text =
                        usersFile == "-"
                        ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                        : try String(contentsOfFile: usersFile, encoding: .utf8)
                    ids += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                }
                guard !ids.isEmpty else { throw ValidationError("give user ids as arguments or with --users FILE") }
                return ids
            }
        }

        struct Assign: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Give a tag to users (in batches of 10,000).")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("tag"), help: "The tag (repeat for several).") var tags: [String] = []
            @OptionGroup var users: UserList
            func run() async throws { try await Self.change(connection: connection, tags: tags, ids: users.load(), remove: false) }

            static func change(connection: ConnectionOptions, tags: [String], ids: [String], remove: Bool) async throws {
                guard !tags.isEmpty else { throw ValidationError("give --tag") }
                try await runCommand {
                    var changed: Int64 = 0
                    var unchanged: Int64 = 0
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        for start in stride(from: 0, to: ids.count, by: 10_000) {
                            let chunk = Array(ids[start..<min(start + 10_000, ids.count)])
                            let request = Segmentd_V1_TagAssignmentRequest.with {
                                $0.parent = tenant
                                $0.tags = tags
                                $0.userIds = chunk
                            }
                            let response =
                                remove
                                ? try await client.tags.unassignTags(request, metadata: client.metadata)
                                : try await client.tags.assignTags(request, metadata: client.metadata)
                            changed += response.changed
                            unchanged += response.unchanged
                        }
                    }
                    if connection.json {
                        printJSON(["changed": changed, "unchanged": unchanged])
                    } else {
                        print("\(changed) \(remove ? "removed" : "added"), \(unchanged) already so")
                    }
                }
            }
        }

        struct Unassign: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Take a tag from users.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("tag"), help: "The tag (repeat for several).") var tags: [String] = []
            @OptionGroup var users: UserList
            func run() async throws { try await Assign.change(connection: connection, tags: tags, ids: users.load(), remove: true) }
        }

        struct Members: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "users", abstract: "List a tag's users, one per line.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The tag id (vip).") var tag: String
            func run() async throws {
                try await runCommand {
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        var token = ""
                        repeat {
                            let page = try await client.tags.listTagUsers(
                                .with {
                                    $0.name = "\(tenant)/tags/\(tag)"
                                    $0.pageToken = token
                                    $0.pageSize = 10_000
                                }, metadata: client.metadata)
                            for user in page.userIds { print(user) }
                            token = page.nextPageToken
                        } while !token.isEmpty
                    }
                }
            }
        }
    }
}
