import ArgumentParser
import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send profiles, events, campaign responses or locations from an NDJSON or CSV file (permission data.ingest).",
            discussion: """
                Records go in batches of up to 1000; each batch is atomic. On a rejected batch segctl prints the bad \
                records with their line numbers and where it stopped: rerun with --skip N to resume (events with \
                message ids are de-duplicated, so resending is safe).
                """)

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "What the file holds: events, profiles, responses or locations.") var kind: String
        @Argument(help: "The file (.ndjson or .csv).") var file: String
        @Option(name: .customLong("format"), help: "ndjson or csv (default: from the file name).") var format: String?
        @Option(name: .customLong("batch-size"), help: "Records per batch (1-1000).") var batchSize = 1000
        @Option(name: .customLong("skip"), help: "Skip the first N records (to resume).") var skip = 0
        @Option(name: .customLong("mode"), help: "Profiles: merge (keep other attributes) or replace.") var mode = "merge"

        func validate() throws {
            guard RecordFile.Kind(rawValue: kind) != nil else { throw ValidationError("kind must be events, profiles, responses or locations") }
            guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 1000") }
            guard ["merge", "replace"].contains(mode) else { throw ValidationError("--mode must be merge or replace") }
        }

        func run() async throws {
            try await runCommand {
                let records: RecordFile
                do { records = try RecordFile(path: file, format: format) } catch let error as RecordFile.BadLine {
                    throw ClientError(.invalidArgument, "\(file): \(error)")
                } catch {
                    throw ClientError(.invalidArgument, "cannot read \(file): \(error.localizedDescription)")
                }
                let kind = RecordFile.Kind(rawValue: self.kind)!
                let progress = Progress(total: max(records.count - skip, 0), unit: kind.rawValue)
                var totals = (accepted: Int64(0), duplicates: Int64(0), newUsers: Int64(0))
                try await connection.withConnection { client in
                    let parent = try await client.callerTenant()
                    var start = skip
                    while start < records.count {
                        let end = min(start + batchSize, records.count)
                        let response: Segmentd_V1_IngestResponse
                        do {
                            response = try await send(kind, records: records, range: start..<end, parent: parent, client: client)
                        } catch let error as RecordFile.BadLine {
                            progress.finish(start - skip)
                            throw ClientError(
                                .invalidArgument, "\(file) \(error); stopped before record \(start) — fix it and rerun with --skip \(start)")
                        } catch let error as RPCError where error.code == .invalidArgument || error.code == .resourceExhausted {
                            progress.finish(start - skip)
                            let violations = (try? error.unpackGoogleRPCStatus())?.details.compactMap(\.badRequest).flatMap(\.violations) ?? []
                            var lines = ["the batch of records \(start)..<\(end) was rejected (nothing of it was written):"]
                            for violation in violations.prefix(20) {
                                lines.append("  \(Self.describe(violation.field, start: start, records: records)): \(violation.violationDescription)")
                            }
                            if violations.count > 20 { lines.append("  … and \(violations.count - 20) more") }
                            lines.append("stopped at record \(start): fix the file and rerun with --skip \(start)")
                            throw ClientError(.invalidArgument, lines.joined(separator: "\n"))
                        }
                        totals.accepted += response.accepted
                        totals.duplicates += response.duplicates
                        totals.newUsers += response.newUsers
                        start = end
                        progress.update(start - skip)
                    }
                    progress.finish(records.count - skip)
                }
                if connection.json {
                    printJSON(["accepted": totals.accepted, "duplicates": totals.duplicates, "new_users": totals.newUsers])
                } else {
                    print("\(totals.accepted) \(kind.rawValue) written, \(totals.duplicates) duplicates skipped, \(totals.newUsers) new users")
                }
            }
        }

        /// `events[3].properties.amount` → `line 57 (events[3]) properties.amount`.
        static func describe(_ field: String, start: Int, records: RecordFile) -> String {
            guard let open = field.firstIndex(of: "["), let close = field.firstIndex(of: "]"),
                let index = Int(field[field.index(after: open)..<close])
            else { return field }
            let rest = field[field.index(after: close)...].drop(while: { $0 == "." })
            return "line \(records.lineNumber(start + index)) \(rest)"
        }

        func send(
            _ kind: RecordFile.Kind, records: RecordFile, range: Range<Int>, parent: String, client: SegmentdConnection
        ) async throws -> Segmentd_V1_IngestResponse {
            switch kind {
            case .events:
                let events = try range.map(records.event)
                return try await client.ingestion.ingestEvents(
                    .with {
                        $0.parent = parent
                        $0.events = events
                    }, metadata: client.metadata)
            case .profiles:
                let profiles = try range.map(records.profile)
                return try await client.ingestion.upsertProfiles(
                    .with {
                        $0.parent = parent
                        $0.profiles = profiles
                        $0.mode = mode == "replace" ? .replace : .merge
                    },
                    metadata: client.metadata)
            case .responses:
                let responses = try range.map(records.response)
                return try await client.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = parent
                        $0.responses = responses
                    }, metadata: client.metadata)
            case .locations:
                let locations = try range.map(records.location)
                return try await client.ingestion.recordLocations(
                    .with {
                        $0.parent = parent
                        $0.locations = locations
                    }, metadata: client.metadata)
            }
        }
    }

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or erase one user, or list their segments.", subcommands: [Get.self, Delete.self, UserSegments.self])

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a user's profile, tags and recent events (users.read).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The user's id.") var user: String
            @Option(name: .customLong("events"), help: "Recent events to show (0-50).") var events = 10

            func run() async throws {
                try await runCommand {
                    let found = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.users.getUser(
                            .with {
                                $0.name = "\(tenant)/users/\(user)"
                                $0.recentEventCount = Int32(events)
                            }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(found) }
                    print("user:        \(found.userID) (first seen \(show(found.firstSeenTime)))")
                    print("tags:        \(found.tags.isEmpty ? "-" : found.tags.joined(separator: ", "))")
                    if found.profile.hasLastLocation {
                        print("location:    \(found.profile.lastLocation.latitude), \(found.profile.lastLocation.longitude)")
                    }
                    print("attributes:")
                    for (key, value) in found.profile.attributes.sorted(by: { $0.key < $1.key }) {
                        print("  \(key) = \(Self.text(value))")
                    }
                    print("recent events:")
                    for event in found.recentEvents {
                        let properties = event.properties.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\(Self.text($0.value))" }
                        print("  \(show(event.time))  \(event.name)  \(properties.joined(separator: " "))")
                    }
                }
            }

            static func text(_ value: Segmentd_V1_Value) -> String {
                switch value.kind {
                case .stringValue(let text): return "\"\(text)\""
                case .numberValue(let number): return number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
                case .boolValue(let flag): return String(flag)
                case .timestampValue(let time): return show(time)
                case .stringListValue(let list): return "[" + list.values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
                case .none: return "-"
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Erase a user and all their data, for an erasure request (data.ingest; audited).",
                discussion: """
                    Removes the user's profile, events, campaign responses, tags, locations and segment memberships; \
                    export files made before expire. It cannot be undone. Asks first on a terminal; scripts pass --yes.
                    """)
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The user's id.") var user: String
            @Flag(name: .customLong("yes"), help: "Do not ask for confirmation (for scripts).") var yes = false

            func run() async throws {
                if !yes {
                    guard isatty(STDIN_FILENO) == 1 else {
                        throw ValidationError("erasing \(user) cannot be undone: pass --yes to confirm (standard input is not a terminal to ask)")
                    }
                    FileHandle.standardError.write(
                        Data(
                            "Erase \(user) and all their data (profile, events, responses, tags, locations, memberships)? This cannot be undone. [y/N] "
                                .utf8))
                    guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased().trimmingCharacters(in: .whitespaces)) else {
                        FileHandle.standardError.write(Data("nothing was erased\n".utf8))
                        throw ExitCode(1)
                    }
                }
                try await runCommand {
                    let removed = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.users.deleteUser(.with { $0.name = "\(tenant)/users/\(user)" }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(removed) }
                    print("erased \(user): " + Self.summary(removed.removed))
                }
            }

            /// What was erased, in the user's terms rather than table names.
            static func summary(_ removed: [String: Int64]) -> String {
                func count(_ key: String, _ one: String, _ many: String) -> String? {
                    guard let n = removed[key], n > 0 else { return nil }
                    return "\(n) \(n == 1 ? one : many)"
                }
                var parts = [
                    removed["profile", default: 0] > 0 ? "their profile" : nil, count("events", "event", "events"),
                    count("responses", "campaign response", "campaign responses"), count("tags", "tag", "tags"),
                    count("locations", "location", "locations"), count("memberships", "segment membership", "segment memberships"),
                ].compactMap { $0 }
                if parts.isEmpty { parts = ["the user (they had no other data)"] }
                var text = parts.joined(separator: ", ")
                if let files = removed["export_files"], files > 0 {
                    text += "; \(files) export file\(files == 1 ? "" : "s") made before will be deleted"
                }
                return text
            }
        }
    }
}
