import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Jobs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Operations behind refreshes (and later exports and syncs): list, get, wait, cancel.",
            discussion: "States: queued → running → succeeded | failed | cancelled, and running → retrying → running (docs/jobs.md).",
            subcommands: [List.self, Get.self, Wait.self, Cancel.self])

        static func name(_ tenant: String, _ id: String) -> String { id.contains("/") ? id : "\(tenant)/operations/\(id)" }

        static func summary(_ operation: Segmentd_V1_Operation) -> String {
            var text =
                "\(shortID(operation.name))  \("\(operation.kind)".lowercased())  \("\(operation.state)".lowercased())  \(shortID(operation.target))"
            if operation.attempt > 1 { text += "  attempt \(operation.attempt)/\(operation.maxAttempts)" }
            if operation.hasRefreshResult {
                text +=
                    "  size \(operation.refresh.size) (+\(operation.refresh.entered) −\(operation.refresh.exited)) in \(operation.refresh.durationMs) ms"
            }
            if case .sync(let sync)? = operation.result {
                text +=
                    sync.notModified
                    ? "  not modified"
                    : "  size \(sync.size) (+\(sync.entered) −\(sync.exited)); \(sync.matchedCount) of \(sync.connectorCount) ids matched"
            }
            if case .training(let card)? = operation.result {
                text += String(format: "  holdout AUC %.3f; %lld users scored", card.holdoutAuc, card.scoredUsers)
            }
            if operation.hasError { text += "  error: \(operation.error.message)" }
            return text
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Recent operations, newest first.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("segment"), help: "Only this segment's operations.") var segment: String?
            func run() async throws {
                try await runCommand {
                    let operations = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.operations.listOperations(
                            .with {
                                $0.parent = tenant
                                $0.pageSize = 100
                                if let segment { $0.target = Segments.name(tenant, segment) }
                            }, metadata: client.metadata
                        ).operations
                    }
                    if connection.json { return try printJSON(operations) }
                    printTable(
                        ["OPERATION", "KIND", "STATE", "TARGET", "ATTEMPT", "CREATED", "RESULT"],
                        operations.map {
                            [
                                shortID($0.name), "\($0.kind)".lowercased(), "\($0.state)".lowercased(), shortID($0.target),
                                "\($0.attempt)/\($0.maxAttempts)",
                                timeText($0.createTime),
                                outcome($0),
                            ]
                        })
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show an operation.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The operation id (or its full name).") var id: String
            func run() async throws {
                try await runCommand {
                    let operation = try await connection.withConnection { client in
                        let name = Jobs.name(try await client.callerTenant(), id)
                        return try await client.operations.getOperation(.with { $0.name = name }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(operation) }
                    print(Jobs.summary(operation))
                }
            }
        }

        struct Wait: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Follow an operation until it is done; exits 1 unless it succeeded.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The operation id (or its full name).") var id: String
            func run() async throws {
                let final = try await Jobs.follow(connection, id: id)
                if final.state != .succeeded { throw ExitCode(1) }
            }
        }

        /// Starts an operation on segment `segment` with `call` (given the segment's name) and prints it, or
        /// with `wait` follows it to the end and exits 1 unless it succeeded; returns the last state seen.
        static func start(
            _ connection: ConnectionOptions, segment: String, wait: Bool,
            _ call: @escaping @Sendable (SegmentdConnection, String) async throws -> Segmentd_V1_Operation
        ) async throws -> Segmentd_V1_Operation {
            var started = Segmentd_V1_Operation()
            try await runCommand {
                started = try await connection.withConnection { client in
                    try await call(client, Segctl.Segments.name(try await client.callerTenant(), segment))
                }
                if !wait {
                    if connection.json { return try printJSON(started) }
                    print(Segctl.Jobs.summary(started))
                }
            }
            guard wait else { return started }
            let final = try await Segctl.Jobs.follow(connection, id: started.name)
            if final.state != .succeeded { throw ExitCode(1) }
            return final
        }

        /// Follows an operation, showing its state on a terminal (plain lines otherwise); returns the final state.
        static func follow(_ connection: ConnectionOptions, id: String) async throws -> Segmentd_V1_Operation {
            var final = Segmentd_V1_Operation()
            let terminal = isatty(STDERR_FILENO) == 1
            try await runCommand {
                final = try await connection.withConnection { client in
                    let name = Jobs.name(try await client.callerTenant(), id)
                    return try await client.wait(operation: name) { operation in
                        guard !connection.json else { return }
                        let line = Jobs.summary(operation)
                        FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : line + "\n").utf8))
                    }
                }
                if terminal && !connection.json { FileHandle.standardError.write(Data("\n".utf8)) }
                // The result goes to stdout (progress went to stderr), so `… --wait > out.txt` keeps it.
                if connection.json { try printJSON(final) } else { print(Jobs.summary(final)) }
            }
            return final
        }

        struct Cancel: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Cancel: a queued job at once, a running one as soon as its worker stops it.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The operation id (or its full name).") var id: String
            func run() async throws {
                try await runCommand {
                    let (operation, alreadyDone) = try await connection.withConnection { client in
                        let name = Jobs.name(try await client.callerTenant(), id)
                        let current = try await client.operations.getOperation(.with { $0.name = name }, metadata: client.metadata)
                        if current.done { return (current, true) }
                        return (try await client.operations.cancelOperation(.with { $0.name = name }, metadata: client.metadata), false)
                    }
                    guard !alreadyDone else {
                        throw ClientError(
                            .server, "operation \(shortID(operation.name)) already finished (\("\(operation.state)".lowercased())): nothing to cancel"
                        )
                    }
                    if connection.json { return try printJSON(operation) }
                    print(Jobs.summary(operation))
                }
            }
        }
    }
}

extension Segctl.Segments {
    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refresh segments now (segments.refresh); --wait follows them to the end.",
            discussion: """
                Requests made while a refresh is already queued join it: one job per segment. \
                Several segments are refreshed together: their rules are evaluated at one instant \
                (one consistent cut, and conditions they share are evaluated once), and none is \
                queued if any is missing or paused.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment ids (or full names); several are refreshed together (at most 1,000).") var ids: [String]
        @Flag(name: .customLong("wait"), help: "Follow the refreshes until they are done; exit 1 unless all succeeded.") var wait = false

        func validate() throws {
            guard !ids.isEmpty else { throw ValidationError("name a segment to refresh") }
        }

        func run() async throws {
            guard ids.count > 1 else {
                _ = try await Segctl.Jobs.start(connection, segment: ids[0], wait: wait) { client, name in
                    try await client.segments.refreshSegment(.with { $0.name = name }, metadata: client.metadata)
                }
                return
            }
            var started: [Segmentd_V1_Operation] = []
            try await runCommand {
                started = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    return try await client.segments.batchRefreshSegments(
                        .with {
                            $0.parent = tenant
                            $0.names = ids.map { Segctl.Segments.name(tenant, $0) }
                        }, metadata: client.metadata
                    ).operations
                }
                if !wait {
                    if connection.json { return try printJSON(started) }
                    for operation in started { print(Segctl.Jobs.summary(operation)) }
                }
            }
            guard wait else { return }
            var failed = 0
            for operation in started where try await Segctl.Jobs.follow(connection, id: operation.name).state != .succeeded { failed += 1 }
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Size over time: a chart on a terminal, then the refreshes.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Option(name: .customLong("limit"), help: "Refreshes to show.") var limit: Int32 = 30
        func run() async throws {
            try await runCommand {
                let points = try await connection.withConnection { client in
                    let name = Segctl.Segments.name(try await client.callerTenant(), id)
                    return try await client.segments.listSegmentSizeHistory(
                        .with {
                            $0.name = name
                            $0.pageSize = limit
                        }, metadata: client.metadata
                    ).points
                }
                if connection.json { return try printJSON(points) }
                guard !points.isEmpty else { return print("no refreshes yet: segctl segments refresh \(id) --wait") }
                let oldestFirst = Array(points.reversed())
                let sizes = oldestFirst.map(\.size)
                print(
                    "size \(sparkline(sizes))  \(sizes.first!) → \(sizes.last!)  (min \(sizes.min()!), max \(sizes.max()!), \(sizes.count) refreshes)"
                )
                printTable(
                    ["TIME", "SIZE", "ENTERED", "EXITED", "DURATION"],
                    points.map {
                        [
                            timeText($0.time), String($0.size), "+\($0.entered)", "−\($0.exited)",
                            "\($0.duration.seconds * 1000 + Int64($0.duration.nanos / 1_000_000)) ms",
                        ]
                    })
            }
        }
    }
}

/// Block characters scaled between the smallest and largest value (people read a trend faster from a picture).
func sparkline(_ values: [Int64]) -> String {
    let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    guard let low = values.min(), let high = values.max() else { return "" }
    let span = max(high - low, 1)
    return String(values.map { blocks[Int((Double($0 - low) / Double(span)) * Double(blocks.count - 1))] })
}

extension Segmentd_V1_Operation {
    /// Whether the operation carries a refresh result.
    var hasRefreshResult: Bool {
        if case .refresh? = result { return true }
        return false
    }
}

/// An operation's outcome in a few words: a refresh's size and changes, or its error.
private func outcome(_ operation: Segmentd_V1_Operation) -> String {
    if operation.hasRefreshResult {
        return "size \(operation.refresh.size) (+\(operation.refresh.entered) −\(operation.refresh.exited))"
    }
    return operation.hasError ? operation.error.message : ""
}
