import ArgumentParser
import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Is a user in these segments? (membership.check; as of each segment's last refresh, or --at a past time)")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        @Argument(help: "Segment ids.") var segments: [String]
        @Option(help: "Answer as of this time (2026-12-01T10:00:00Z), from the change log, within its retention.") var at: String?

        func validate() throws {
            if let at { _ = try Segctl.Segments.parseTime(at, option: "--at") }
        }

        func run() async throws {
            try await runCommand {
                let response = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    return try await client.membership.checkMembership(
                        .with {
                            $0.parent = tenant
                            $0.userID = user
                            $0.segments = segments.map { Segments.name(tenant, $0) }
                            if let at, let time = try? Segctl.Segments.parseTime(at, option: "--at") { $0.atTime = .init(date: time) }
                        }, metadata: client.metadata)
                }
                if connection.json { return try printJSON(response) }
                printTable(
                    ["SEGMENT", "MEMBER", "SINCE"],
                    response.results.map {
                        [shortID($0.segment), $0.member ? "yes" : "no", $0.hasEnterTime ? timeText($0.enterTime) : ""]
                    })
            }
        }
    }
}

extension Segctl.Users {
    struct UserSegments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "segments", abstract: "The segments a user is in (users.read).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user id.") var user: String
        func run() async throws {
            try await runCommand {
                let response = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    return try await client.membership.listUserSegments(
                        .with {
                            $0.parent = tenant
                            $0.userID = user
                        }, metadata: client.metadata)
                }
                if connection.json { return try printJSON(response) }
                if response.memberships.isEmpty { return print("\(user) is in no segment") }
                printTable(["SEGMENT", "SINCE"], response.memberships.map { [shortID($0.segment), timeText($0.enterTime)] })
            }
        }
    }
}

extension Segctl.Segments {
    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count, sample, breakdown by an attribute, overlap with another segment, history and last changes.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Option(
            name: .customLong("by"),
            help: "Break members down by this profile attribute: its most common values, or ranges for a number.") var attribute: String?
        @Option(name: .customLong("top"), help: "With --by: the most common values to show (1-1000); the rest are one (other) row.")
        var top: Int32 = 20
        @Option(name: .customLong("buckets"), help: "With --by a number attribute: about how many ranges (1-100).") var buckets: Int32 = 5
        @Option(name: .customLong("overlap"), help: "Another segment to compare with.") var other: String?
        @Option(name: .customLong("sample"), help: "Members to show (1-1000).") var sample: Int32 = 10

        func validate() throws {
            guard (1...1000).contains(sample) else { throw ValidationError("--sample: 1-1000") }
            guard (1...1000).contains(top) else { throw ValidationError("--top: 1-1000") }
            guard (1...100).contains(buckets) else { throw ValidationError("--buckets: 1-100") }
        }

        func run() async throws {
            try await runCommand {
                let inspection = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    return try await client.segments.inspectSegment(
                        .with {
                            $0.name = Segctl.Segments.name(tenant, id)
                            $0.sampleSize = sample
                            $0.breakdownAttribute = attribute ?? ""
                            $0.breakdownLimit = top
                            $0.breakdownBuckets = buckets
                            if let other { $0.overlapSegment = Segctl.Segments.name(tenant, other) }
                        }, metadata: client.metadata)
                }
                if connection.json { return try printJSON(inspection) }
                let segment = inspection.segment
                print(
                    "\(shortID(segment.name)): \(inspection.count) members (\("\(segment.state)".lowercased()); last refresh \(segment.hasLastRefresh ? timeText(segment.lastRefresh.time) + " " + segment.lastRefresh.outcome : "never"))"
                )
                print("rule     \(segment.rule.text)")
                if !inspection.sampleUserIds.isEmpty { print("sample   \(inspection.sampleUserIds.joined(separator: ", "))") }
                if !inspection.sizeHistory.isEmpty {
                    let sizes = inspection.sizeHistory.reversed().map(\.size)
                    print("history  \(sparkline(Array(sizes)))  \(sizes.first!) → \(sizes.last!)")
                }
                if !inspection.enteredSample.isEmpty || !inspection.exitedSample.isEmpty {
                    print("entered  \(inspection.enteredSample.joined(separator: ", "))")
                    print("exited   \(inspection.exitedSample.joined(separator: ", "))")
                }
                if inspection.hasOverlap {
                    let overlap = inspection.overlap
                    print(
                        "overlap with \(shortID(overlap.segment)): both \(overlap.both), only this \(overlap.onlyThis), only the other \(overlap.onlyOther)"
                    )
                }
                if !inspection.breakdown.isEmpty {
                    let top = max(inspection.breakdown.map(\.count).max() ?? 1, 1)
                    print("by \(attribute ?? ""):")
                    printTable(
                        ["VALUE", "MEMBERS", ""],
                        inspection.breakdown.map {
                            [$0.value, String($0.count), String(repeating: "█", count: max(1, Int(20 * Double($0.count) / Double(top))))]
                        })
                }
            }
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a segment's member ids, one per line, from one consistent snapshot (membership.check).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Option(help: "The members as of this time (2026-12-01T10:00:00Z), from the change log, within its retention.") var at: String?

        func validate() throws {
            if let at { _ = try Segctl.Segments.parseTime(at, option: "--at") }
        }

        func run() async throws {
            try await runCommand {
                try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    let request = ClientRequest(
                        message: Segmentd_V1_StreamSegmentMembersRequest.with {
                            $0.segment = Segctl.Segments.name(tenant, id)
                            if let at, let time = try? Segctl.Segments.parseTime(at, option: "--at") { $0.atTime = .init(date: time) }
                        },
                        metadata: client.metadata)
                    try await client.membership.streamSegmentMembers(request: request) { response in
                        for try await chunk in response.messages where !chunk.userIds.isEmpty {
                            print(chunk.userIds.joined(separator: "\n"))
                        }
                    }
                }
            }
        }
    }
}

extension Segctl.Segments {
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print membership changes as they commit: who entered or exited which segment, and why (segments.read).",
            discussion: """
                One line a change: position, when it took effect, segment, entered/exited, user, cause. Resume after a \
                stop with --from the last position printed: every later change comes exactly once, in order. \
                With --json, one JSON object a line (heartbeats too, with the position they have seen through).
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Segments to watch (ids or names); none: every segment.") var segments: [String] = []
        @Option(help: "Where to start: a position (changes after it), a time (2026-12-01T10:00:00Z), or now.") var from = "now"
        @Option(help: "Stop after this many changes (0: run until interrupted).") var count = 0
        @Option(help: "Seconds between heartbeats while nothing changes (1-300).") var heartbeat: Int32 = 10

        func validate() throws {
            _ = try Self.start(from)
            guard count >= 0 else { throw ValidationError("--count: 0 or more") }
        }

        /// `now`, a position, or an ISO 8601 time.
        static func start(_ text: String) throws -> Segmentd_V1_WatchSegmentChangesRequest.OneOf_Start? {
            if text == "now" { return nil }
            if let position = Int64(text), position >= 0 { return .afterPosition(position) }
            guard let time = try? Segctl.Segments.parseTime(text, option: "--from") else {
                throw ValidationError("--from: a position (42), a time (2026-12-01T10:00:00Z) or now")
            }
            return .startTime(.init(date: time))
        }

        func run() async throws {
            try await runCommand {
                try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    let request = ClientRequest(
                        message: Segmentd_V1_WatchSegmentChangesRequest.with {
                            $0.parent = tenant
                            $0.segments = segments.map { Segctl.Segments.name(tenant, $0) }
                            $0.start = try? Self.start(from)
                            $0.heartbeatSeconds = heartbeat
                        }, metadata: client.metadata)
                    let options = { () -> JSONEncodingOptions in
                        var options = JSONEncodingOptions()
                        options.preserveProtoFieldNames = true
                        return options
                    }()
                    try await client.membership.watchSegmentChanges(request: request) { response in
                        var printed = 0
                        var first = true
                        for try await received in response.messages {
                            var message = received
                            // With --count, the last message is cut at the count (its position then the last change's).
                            if count > 0 && printed + message.changes.count > count {
                                message.changes = Array(message.changes.prefix(count - printed))
                                message.position = message.changes.last?.position ?? message.position
                            }
                            // Written at once (not buffered): a watch feeds other programs as changes come.
                            if connection.json {
                                FileHandle.standardOutput.write(Data((try message.jsonString(options: options) + "\n").utf8))
                            } else {
                                if first { FileHandle.standardError.write(Data("watching after position \(message.position)\n".utf8)) }
                                for change in message.changes { FileHandle.standardOutput.write(Data((Self.line(change) + "\n").utf8)) }
                            }
                            first = false
                            printed += message.changes.count
                            if count > 0 && printed >= count { return }
                        }
                    }
                }
            }
        }

        static func line(_ change: Segmentd_V1_SegmentChange) -> String {
            let cause: String
            switch change.cause {
            case .refresh: cause = "refresh"
            case .realTime: cause = "real-time"
            case .sync: cause = "sync"
            case .score: cause = "score"
            case .deletion: cause = "deletion"
            default: cause = "-"
            }
            return [
                String(change.position), timeText(change.effectiveTime), shortID(change.segment), change.kind == .entered ? "entered" : "exited",
                change.userID.isEmpty ? "(erased)" : change.userID, cause + (change.operation.isEmpty ? "" : " " + shortID(change.operation)),
            ].joined(separator: "  ")
        }
    }
}

extension Segctl.Segments {
    /// An ISO 8601 time, with or without fractional seconds.
    static func parseTime(_ text: String, option: String) throws -> Date {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let time = fractional.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
            throw ValidationError("\(option): a time such as 2026-12-01T10:00:00Z")
        }
        return time
    }
}
