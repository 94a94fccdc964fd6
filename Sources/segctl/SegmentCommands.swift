import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    struct Segments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and manage segments (segments.read, segments.write, segments.pause).",
            discussion: "Segments are named like queries (cart_abandoners_24h); rules are written as in docs/rules.md.",
            subcommands: [
                Create.self, Get.self, List.self, Update.self, Delete.self, Undelete.self, Duplicate.self,
                Refresh.self, History.self, Inspect.self, Members.self, Watch.self, Export.self, Pause.self, Resume.self, Revisions.self,
                Rollback.self,
                Explain.self,
                Import.self, Push.self, Sync.self, Train.self, Model.self,
            ])

        /// The segment's name from its id, or the name itself when one is given (`tenants/x/segments/y`).
        static func name(_ tenant: String, _ id: String) -> String { id.hasPrefix("tenants/") ? id : "\(tenant)/segments/\(id)" }

        static func scheduleText(_ schedule: Segmentd_V1_Schedule) -> String {
            var text: String
            switch schedule.cadence {
            case .manual?, nil: text = "manual"
            case .everyHours(let hours)?: text = "every \(hours)h"
            case .daily(let daily)?: text = "daily \(daily.timeOfDay) \(daily.timeZone)"
            }
            if schedule.afterDependencies { text += " + after dependencies" }
            return text
        }

        /// `manual`, `every:6h`, `daily:03:00[@Europe/Istanbul]`.
        static func parseSchedule(_ text: String) throws -> Segmentd_V1_Schedule {
            if text == "manual" { return .with { $0.manual = true } }
            if text.hasPrefix("every:"), text.hasSuffix("h"), let hours = Int32(text.dropFirst(6).dropLast()) {
                return .with { $0.everyHours = hours }
            }
            if text.hasPrefix("daily:") {
                let parts = text.dropFirst(6).split(separator: "@", maxSplits: 1)
                return .with {
                    $0.daily = .with { daily in
                        daily.timeOfDay = String(parts.first ?? "03:00")
                        daily.timeZone = parts.count > 1 ? String(parts[1]) : ""
                    }
                }
            }
            throw ValidationError("--schedule: manual, every:6h or daily:03:00[@Europe/Istanbul]")
        }

        static func render(_ segments: [Segmentd_V1_Segment], json: Bool) throws {
            if json { return try printJSON(segments) }
            let now = Date()
            printTable(
                ["SEGMENT", "STATE", "SIZE", "SCHEDULE", "READY", "REV", "FRESHNESS", "NEXT REFRESH", "DEFINITION"],
                segments.map {
                    [
                        shortID($0.name) + ($0.hasDeleteTime ? " (deleted)" : ""), "\($0.state)".lowercased(), String($0.size),
                        ($0.realTime ? "real-time, " : "") + scheduleText($0.schedule),
                        $0.curation.readyToUse ? ($0.curation.category.isEmpty ? "yes" : $0.curation.category) : "", String($0.revision),
                        freshnessColumn($0),
                        $0.hasNextRefreshTime ? ($0.nextRefreshTime.date <= now ? "due now" : timeText($0.nextRefreshTime)) : "-", definitionText($0),
                    ]
                })
        }

        /// What the members follow, for a marketer: "never refreshed", "refreshed … for revision 3",
        /// "stale: revision 4 changed the rule since the refresh for revision 3 …".
        static func freshnessText(_ segment: Segmentd_V1_Segment) -> String {
            let refreshed =
                segment.hasLastRefresh && segment.lastRefresh.outcome == "succeeded"
                ? "refreshed \(timeText(segment.lastRefresh.time)) for revision \(segment.refreshedRevision)"
                : "refreshed for revision \(segment.refreshedRevision)"
            switch segment.freshness {
            case .fresh where segment.realTime && segment.state == .active:
                return "kept in real time, for revision \(segment.refreshedRevision)"
            case .fresh: return refreshed
            case .stale:
                let what =
                    switch segment.kind {
                    case .connector: "the connector"
                    case .predictive: "the prediction"
                    default: "the rule"
                    }
                return
                    "stale: revision \(segment.definitionRevision) changed \(what) since the refresh for revision \(segment.refreshedRevision); "
                    + "the members still follow revision \(segment.refreshedRevision) until the next refresh"
            default: return "never refreshed: no members computed yet"
            }
        }

        /// The freshness in a table cell.
        static func freshnessColumn(_ segment: Segmentd_V1_Segment) -> String {
            switch segment.freshness {
            case .fresh: return "fresh (rev \(segment.refreshedRevision))"
            case .stale: return "stale (rev \(segment.refreshedRevision), changed in \(segment.definitionRevision))"
            default: return "never refreshed"
            }
        }

        /// When the schedule refreshes next; a time already past is due now.
        static func nextRefreshText(_ time: Google_Protobuf_Timestamp, now: Date) -> String {
            time.date <= now ? "due now (the scheduler starts it within a minute)" : timeText(time)
        }

        /// The "next refresh" line: the time, or why there is none.
        static func nextRefreshLine(_ segment: Segmentd_V1_Segment) -> String {
            if segment.hasNextRefreshTime { return nextRefreshText(segment.nextRefreshTime, now: Date()) }
            if segment.hasDeleteTime { return "" }
            switch segment.state {
            case .paused: return "none while paused"
            case .archived: return "none while archived"
            default: return "none: the schedule is manual (segctl segments refresh \(shortID(segment.name)))"
            }
        }

        /// The rule, the connector's source or what is predicted, in one line.
        static func definitionText(_ segment: Segmentd_V1_Segment) -> String {
            switch segment.kind {
            case .connector:
                let connector = segment.connector
                switch connector.source {
                case .pull:
                    return "pull \(connector.pull.format) from \(connector.pull.url)" + (connector.pull.authHeaderSet ? " (with an auth header)" : "")
                case .file: return "connector: uploaded files"
                default: return "connector: pushed by the sync API"
                }
            case .predictive:
                let p = segment.predictive
                let goal = p.goal == .churn ? "stop performing \(p.event)" : "perform \(p.event)"
                return "\("\(p.bucket)".lowercased()) likelihood to \(goal) within \(p.horizonDays) days"
            default: return segment.rule.text
            }
        }

        /// The "real time" line of a rule-based segment (other kinds cannot be real-time: no line).
        static func realTimeText(_ segment: Segmentd_V1_Segment) -> String {
            guard segment.kind == .ruleBased || segment.kind == .unspecified else { return "" }
            return segment.realTime ? "yes" : "no"
        }

        /// `rule-based`, `connector` or `predictive`.
        static func kindText(_ kind: Segmentd_V1_Segment.Kind) -> String {
            switch kind {
            case .connector: "connector"
            case .predictive: "predictive"
            default: "rule-based"
            }
        }

        /// What `create --validate-only` would create: the definition, without the
        /// state, size and revision a segment only has once saved.
        static func showDraft(_ segment: Segmentd_V1_Segment) {
            print("valid: would create \(segment.name) (nothing was saved)")
            let lines = [
                ("kind", kindText(segment.kind)),
                (segment.kind == .ruleBased || segment.kind == .unspecified ? "rule" : "definition", definitionText(segment)),
                ("meaning", segment.rule.description_p), ("display name", segment.displayName), ("description", segment.description_p),
                ("schedule", scheduleText(segment.schedule)), ("real time", realTimeText(segment)),
            ]
            for (key, value) in lines where !value.isEmpty { print("\(key.padding(toLength: 13, withPad: " ", startingAt: 0)) \(value)") }
        }

        static func show(_ segment: Segmentd_V1_Segment, json: Bool) throws {
            if json { return try printJSON(segment) }
            var lines = [
                ("name", segment.name), ("display name", segment.displayName), ("description", segment.description_p),
                ("kind", kindText(segment.kind)),
                (segment.kind == .ruleBased || segment.kind == .unspecified ? "rule" : "definition", definitionText(segment)),
                ("meaning", segment.rule.description_p), ("state", "\(segment.state)".lowercased()),
                ("schedule", scheduleText(segment.schedule)), ("real time", realTimeText(segment)), ("size", String(segment.size)),
                ("revision", "\(segment.revision) (etag \(segment.etag))"), ("created", "\(timeText(segment.createTime)) by \(segment.creator)"),
                ("freshness", freshnessText(segment)), ("next refresh", nextRefreshLine(segment)),
                ("refresh", segment.refreshOperation.isEmpty ? "" : "started as operation \(shortID(segment.refreshOperation))"),
            ]
            if segment.hasLastRefresh {
                lines.append(("last refresh", "\(timeText(segment.lastRefresh.time)) \(segment.lastRefresh.outcome) \(segment.lastRefresh.error)"))
                if segment.kind == .connector {
                    let refresh = segment.lastRefresh
                    lines.append(
                        (
                            "connector",
                            "\(refresh.connectorCount) ids sent, \(refresh.matchedCount) matched known users, \(refresh.connectorCount - refresh.matchedCount) unknown"
                        ))
                }
            }
            if segment.curation.readyToUse {
                lines.append(("ready to use", "\(segment.curation.category) #\(segment.curation.position) \(segment.curation.note)"))
            }
            if segment.hasDeleteTime { lines.append(("deleted", "\(timeText(segment.deleteTime)); purged after \(timeText(segment.purgeTime))")) }
            for (key, value) in lines where !value.isEmpty { print("\(key.padding(toLength: 13, withPad: " ", startingAt: 0)) \(value)") }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a segment: rule-based (--rule), connector (--connector) or predictive (--predict).",
                discussion: """
                    segctl segments create cart_abandoners --rule 'did add_to_cart in last 24h and not did purchase in last 24h'
                    segctl segments create crm_vips --connector push
                    segctl segments create partner_list --connector pull --url https://example.com/ids.csv --auth-header-file token.txt
                    segctl segments create likely_buyers --predict convert --event purchase --horizon-days 14 --bucket high
                    """)
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "Segment id: 1-63 of a-z, 0-9 and _ (cart_abandoners_24h).") var id: String
            @Option(name: .customLong("rule"), help: "A rule-based segment's rule text.") var rule: String?
            @Option(name: .customLong("connector"), help: "A connector segment's source: push, file or pull.") var connector: String?
            @Option(name: .customLong("url"), help: "For --connector pull: the CSV or NDJSON file's http(s) URL.") var url: String?
            @Option(name: .customLong("format"), help: "For --connector pull: csv or ndjson (default csv).") var format: String?
            @Option(
                name: .customLong("auth-header-file"),
                help: "For --connector pull: a file holding the Authorization header value (never shown again).") var authHeaderFile: String?
            @Option(name: .customLong("timeout-seconds"), help: "For --connector pull: give up after this long (default 60).") var timeoutSeconds:
                Int64?
            @Option(name: .customLong("max-bytes"), help: "For --connector pull: refuse larger files (default 100 MiB).") var maxBytes: Int64?
            @Option(name: .customLong("predict"), help: "A predictive segment's goal: convert or churn.") var predict: String?
            @Option(name: .customLong("event"), help: "For --predict: the event to convert on, or whose stop is churn (default app_open).") var event:
                String?
            @Option(name: .customLong("horizon-days"), help: "For --predict: within how many days (1-90, default 14).") var horizonDays: Int32?
            @Option(name: .customLong("bucket"), help: "For --predict: which users are members: high, medium or low (default high).") var bucket:
                String?
            @Option(name: .customLong("display-name"), help: "A human-readable name (at most 100 characters).") var displayName: String?
            @Option(name: .customLong("description"), help: "What the segment is for (at most 500 characters).") var description: String?
            @Option(name: .customLong("schedule"), help: "manual, every:6h or daily:03:00[@Zone] (default daily 03:00 in the tenant's zone).")
            var schedule: String?
            @Flag(
                name: .customLong("real-time"),
                help: "For --rule: keep the members true continuously (each ingest batch, each window edge), besides the refreshes.")
            var realTime = false
            @Flag(name: .customLong("validate-only"), help: "Check everything, save nothing.") var validateOnly = false
            @OptionGroup var refresh: RefreshOptions

            func validate() throws {
                _ = try schedule.map(Segments.parseSchedule)
                guard [rule != nil, connector != nil, predict != nil].filter({ $0 }).count == 1 else {
                    throw ValidationError("give exactly one of --rule, --connector or --predict")
                }
                if realTime && rule == nil { throw ValidationError("--real-time goes with --rule: only a rule-based segment can be real-time") }
                if connector != nil, !["push", "file", "pull"].contains(connector!) { throw ValidationError("--connector: push, file or pull") }
                if connector == "pull" && url == nil { throw ValidationError("--connector pull needs --url") }
                if connector != "pull" && (url != nil || authHeaderFile != nil) {
                    throw ValidationError("--url and --auth-header-file go with --connector pull")
                }
                if let predict, !["convert", "churn"].contains(predict) { throw ValidationError("--predict: convert or churn") }
                if predict == "convert" && event == nil { throw ValidationError("--predict convert needs --event (such as purchase)") }
                if let bucket, !["high", "medium", "low"].contains(bucket) { throw ValidationError("--bucket: high, medium or low") }
                if validateOnly && refresh.requested {
                    throw ValidationError("--validate-only saves nothing to refresh: leave out --refresh and --wait")
                }
            }

            func run() async throws {
                let parsedSchedule = try schedule.map(Segments.parseSchedule)
                var authHeader = ""
                if let authHeaderFile {
                    guard let text = try? String(contentsOfFile: authHeaderFile, encoding: .utf8) else {
                        throw ValidationError("cannot read \(authHeaderFile)")
                    }
                    authHeader = text.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                let refresh = refresh
                let authHeaderValue = authHeader
                try await Segments.change(connection, id, refresh: refresh, draft: validateOnly) { client, _ in
                    let tenant = try await client.callerTenant()
                    return try await client.segments.createSegment(
                        .with {
                            $0.parent = tenant
                            $0.segmentID = id
                            $0.validateOnly = validateOnly
                            $0.refresh = refresh.requested
                            $0.segment = .with { segment in
                                if let rule {
                                    segment.kind = .ruleBased
                                    segment.rule = .with { $0.text = rule }
                                } else if let connector {
                                    segment.kind = .connector
                                    segment.connector = .with {
                                        $0.source = connector == "pull" ? .pull : connector == "file" ? .file : .push
                                        if let url {
                                            $0.pull = .with { pull in
                                                pull.url = url
                                                pull.format = format ?? "csv"
                                                pull.authHeader = authHeaderValue
                                                if let timeoutSeconds { pull.timeout = .init(seconds: timeoutSeconds, nanos: 0) }
                                                pull.maxBytes = maxBytes ?? 0
                                            }
                                        }
                                    }
                                } else if let predict {
                                    segment.kind = .predictive
                                    segment.predictive = .with {
                                        $0.goal = predict == "churn" ? .churn : .convert
                                        $0.event = event ?? ""
                                        $0.horizonDays = horizonDays ?? 0
                                        $0.bucket = bucket == "low" ? .low : bucket == "medium" ? .medium : .high
                                    }
                                }
                                segment.displayName = displayName ?? ""
                                segment.description_p = description ?? ""
                                if let parsedSchedule { segment.schedule = parsedSchedule }
                                segment.realTime = realTime
                            }
                        }, metadata: client.metadata)
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a segment.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await runCommand {
                    let segment = try await connection.withConnection { client in
                        let name = Segments.name(try await client.callerTenant(), id)
                        return try await client.segments.getSegment(.with { $0.name = name }, metadata: client.metadata)
                    }
                    try Segments.show(segment, json: connection.json)
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List segments.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("query"), help: "Text in the id, name or description.") var query: String?
            @Flag(name: .customLong("paused"), help: "Only paused segments.") var paused = false
            @Flag(name: .customLong("ready-to-use"), help: "Only ready-to-use segments.") var readyToUse = false
            @Flag(name: .customLong("deleted"), help: "Include deleted segments.") var deleted = false
            func run() async throws {
                try await runCommand {
                    let segments = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        var all: [Segmentd_V1_Segment] = []
                        var token = ""
                        repeat {
                            let page = try await client.segments.listSegments(
                                .with {
                                    $0.parent = tenant
                                    $0.pageToken = token
                                    $0.pageSize = 1000
                                    $0.query = query ?? ""
                                    $0.readyToUse = readyToUse
                                    $0.showDeleted = deleted
                                    if paused { $0.state = .paused }
                                }, metadata: client.metadata)
                            all += page.segments
                            token = page.nextPageToken
                        } while !token.isEmpty
                        return all
                    }
                    try Segments.render(segments, json: connection.json)
                }
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Change a segment's rule, names, schedule or real-time evaluation (a new revision).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            @Option(name: .customLong("rule"), help: "The new rule text.") var rule: String?
            @Option(name: .customLong("display-name"), help: "A human-readable name (at most 100 characters).") var displayName: String?
            @Option(name: .customLong("description"), help: "What the segment is for (at most 500 characters).") var description: String?
            @Option(name: .customLong("schedule"), help: "manual, every:6h or daily:03:00[@Zone].") var schedule: String?
            @Option(
                name: .customLong("real-time"),
                help: "true: keep a rule-based segment's members true continuously, besides the refreshes; false: refreshes only.")
            var realTime: Bool?
            @Option(name: .customLong("etag"), help: "Fail if the segment changed since this etag.") var etag: String?
            @OptionGroup var refresh: RefreshOptions

            func validate() throws {
                _ = try schedule.map(Segments.parseSchedule)
                guard rule != nil || displayName != nil || description != nil || schedule != nil || realTime != nil else {
                    throw ValidationError("nothing to change: give --rule, --display-name, --description, --schedule or --real-time")
                }
            }

            func run() async throws {
                let parsedSchedule = try schedule.map(Segments.parseSchedule)
                var paths: [String] = []
                if rule != nil { paths.append("rule") }
                if displayName != nil { paths.append("display_name") }
                if description != nil { paths.append("description") }
                if schedule != nil { paths.append("schedule") }
                if realTime != nil { paths.append("real_time") }
                guard !paths.isEmpty else { throw ValidationError("give --rule, --display-name, --description, --schedule or --real-time") }
                let refresh = refresh
                let mask = paths
                try await Segments.change(connection, id, refresh: refresh) { client, name in
                    try await client.segments.updateSegment(
                        .with {
                            $0.refresh = refresh.requested
                            $0.updateMask = .with { $0.paths = mask }
                            $0.segment = .with { segment in
                                segment.name = name
                                segment.etag = etag ?? ""
                                if let rule { segment.rule = .with { $0.text = rule } }
                                segment.displayName = displayName ?? ""
                                segment.description_p = description ?? ""
                                if let parsedSchedule { segment.schedule = parsedSchedule }
                                segment.realTime = realTime ?? false
                            }
                        }, metadata: client.metadata)
                }
            }
        }

        /// Runs a create, update or rollback (`call`, given the segment's name) and shows the segment;
        /// with `--wait`, follows the refresh started with it (progress on stderr), then shows the
        /// segment as that refresh left it and exits 1 unless the refresh succeeded.
        static func change(
            _ connection: ConnectionOptions, _ id: String, refresh: RefreshOptions, draft: Bool = false,
            _ call: @escaping @Sendable (SegmentdConnection, String) async throws -> Segmentd_V1_Segment
        ) async throws {
            var succeeded = true
            try await runCommand {
                let (segment, final) = try await connection.withConnection { client in
                    let changed = try await call(client, Segments.name(try await client.callerTenant(), id))
                    guard refresh.wait, !changed.refreshOperation.isEmpty else { return (changed, Segmentd_V1_Operation?.none) }
                    let terminal = isatty(STDERR_FILENO) == 1
                    let final = try await client.wait(operation: changed.refreshOperation) { operation in
                        guard !connection.json else { return }
                        let line = Jobs.summary(operation)
                        FileHandle.standardError.write(Data((terminal ? "\r\(line)\u{1B}[K" : line + "\n").utf8))
                    }
                    if terminal && !connection.json { FileHandle.standardError.write(Data("\n".utf8)) }
                    var after = try await client.segments.getSegment(.with { $0.name = changed.name }, metadata: client.metadata)
                    after.refreshOperation = changed.refreshOperation
                    after.warnings = changed.warnings
                    return (after, final)
                }
                // The segment goes to stdout (progress went to stderr), so `… --wait > out.txt` keeps it.
                if draft && !connection.json {
                    Segments.showDraft(segment)
                } else {
                    try Segments.show(segment, json: connection.json)
                }
                // Warnings accompany the answer: standard error, after it.
                if !connection.json { Rules.printDiagnostics(segment.warnings, toStandardError: true) }
                if let final, final.state != .succeeded {
                    succeeded = false
                    FileHandle.standardError.write(Data("segctl: the refresh did not succeed: \(Jobs.summary(final))\n".utf8))
                }
            }
            if !succeeded { throw ExitCode(1) }
        }

        /// Runs one call on the named segment and shows the result.
        static func act(
            _ connection: ConnectionOptions, _ id: String,
            _ call: @escaping @Sendable (SegmentdConnection, String) async throws -> Segmentd_V1_Segment
        ) async throws {
            try await runCommand {
                let segment = try await connection.withConnection { client in
                    try await call(client, Segments.name(try await client.callerTenant(), id))
                }
                try Segments.show(segment, json: connection.json)
                if !connection.json { Rules.printDiagnostics(segment.warnings, toStandardError: true) }
            }
        }

        /// Runs `call` on the segment and prints one line about the result (or it as JSON with --json).
        static func actBriefly(
            _ connection: ConnectionOptions, _ id: String,
            _ call: @escaping @Sendable (SegmentdConnection, String) async throws -> (before: Segmentd_V1_Segment?, after: Segmentd_V1_Segment),
            line: @escaping @Sendable (_ before: Segmentd_V1_Segment?, _ after: Segmentd_V1_Segment) -> String
        ) async throws {
            try await runCommand {
                let (before, after) = try await connection.withConnection { client in
                    try await call(client, Segments.name(try await client.callerTenant(), id))
                }
                if connection.json { try Segments.show(after, json: true) } else { print(line(before, after)) }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a segment (it can be undeleted until it is purged).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await Segments.act(connection, id) { client, name in
                    try await client.segments.deleteSegment(.with { $0.name = name }, metadata: client.metadata)
                }
            }
        }

        struct Undelete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Bring back a deleted segment.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await Segments.act(connection, id) { client, name in
                    try await client.segments.undeleteSegment(.with { $0.name = name }, metadata: client.metadata)
                }
            }
        }

        struct Duplicate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Copy a segment's definition to a new id.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            @Argument(help: "The new segment's id.") var newID: String
            func run() async throws {
                let newID = newID
                try await Segments.act(connection, id) { client, name in
                    try await client.segments.duplicateSegment(
                        .with {
                            $0.name = name
                            $0.newSegmentID = newID
                        }, metadata: client.metadata)
                }
            }
        }

        struct Pause: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pause: keep the last membership, skip refreshes.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await Segments.act(connection, id) { client, name in
                    try await client.segments.pauseSegment(.with { $0.name = name }, metadata: client.metadata)
                }
            }
        }

        struct Resume: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Resume a paused segment.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await Segments.act(connection, id) { client, name in
                    try await client.segments.resumeSegment(.with { $0.name = name }, metadata: client.metadata)
                }
            }
        }

        struct Revisions: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a segment's revisions: who changed what, when.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await runCommand {
                    let revisions = try await connection.withConnection { client in
                        let name = Segments.name(try await client.callerTenant(), id)
                        return try await client.segments.listSegmentRevisions(
                            .with {
                                $0.parent = name
                                $0.pageSize = 500
                            }, metadata: client.metadata
                        ).revisions
                    }
                    if connection.json { return try printJSON(revisions) }
                    printTable(
                        ["REV", "TIME", "ACTOR", "CHANGED", "RULE"],
                        revisions.map {
                            [
                                String($0.revision), timeText($0.createTime), shortID($0.actor), $0.changedFields.joined(separator: ","),
                                $0.snapshot.rule.text,
                            ]
                        })
                }
            }
        }

        struct Rollback: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Restore a revision's definition (as a new revision).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            @Argument(help: "The revision to restore (see segments revisions).") var revision: Int64
            @OptionGroup var refresh: RefreshOptions
            func run() async throws {
                let revision = revision
                let refresh = refresh
                try await Segments.change(connection, id, refresh: refresh) { client, name in
                    try await client.segments.rollbackSegment(
                        .with {
                            $0.name = name
                            $0.revision = revision
                            $0.refresh = refresh.requested
                        }, metadata: client.metadata)
                }
            }
        }

        struct Explain: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show why a user is or is not in a segment: each condition's result and what was observed (users.read).")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            @Option(name: .customLong("user"), help: "The user id.") var user: String
            func run() async throws {
                try await runCommand {
                    let response = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.rules.explainMembership(
                            .with {
                                $0.parent = tenant
                                $0.segment = Segments.name(tenant, id)
                                $0.userID = user
                            }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(response) }
                    if response.hasPrediction {
                        print("\(user) \(response.member ? "is" : "is not") in \(id) (scored \(timeText(response.evaluateTime)))")
                        Rules.printTree(response.root, indent: 0)
                        if !response.prediction.contributions.isEmpty { print("strongest features (contribution to the log-odds):") }
                        for item in response.prediction.contributions {
                            print(String(format: "  %@ = %.3g  %+.3f", item.feature, item.value, item.contribution))
                        }
                        return
                    }
                    print(
                        "\(user) \(response.member ? "matches" : "does not match") \(id) now (\(timeText(response.evaluateTime)))"
                            + "; in the last refresh: \(response.inLastRefresh ? "yes" : "no")")
                    Rules.printPartial(response)
                    Rules.printTree(response.root, indent: 0)
                }
            }
        }
    }

    struct ReadyToUse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ready-to-use", abstract: "Curate ready-to-use segments (segments.curate to pin; segments.read to list).",
            subcommands: [Pin.self, Unpin.self, List.self])

        struct Pin: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pin a segment as ready to use.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            @Option(name: .customLong("category"), help: "The shelf (category) it appears on.") var category = ""
            @Option(name: .customLong("position"), help: "Its place on the shelf: 1 is first; 0 (the default) places it last.")
            var position: Int32 = 0
            @Option(name: .customLong("note"), help: "A note for the team (at most 500 characters).") var note = ""
            func run() async throws {
                let (category, position, note) = (category, position, note)
                try await Segments.actBriefly(connection, id) { client, name in
                    let pinned = try await client.segments.pinSegment(
                        .with {
                            $0.name = name
                            $0.category = category
                            $0.position = position
                            $0.note = note
                        }, metadata: client.metadata)
                    return (nil, pinned)
                } line: { _, pinned in
                    let shelf = pinned.curation.category.isEmpty ? "the shelf" : "'\(pinned.curation.category)'"
                    return "pinned \(shortID(pinned.name)) on \(shelf) at position \(pinned.curation.position)"
                }
            }
        }

        struct Unpin: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Unpin a segment.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The segment id (or its full name).") var id: String
            func run() async throws {
                try await Segments.actBriefly(connection, id) { client, name in
                    let before = try await client.segments.getSegment(.with { $0.name = name }, metadata: client.metadata)
                    return (before, try await client.segments.unpinSegment(.with { $0.name = name }, metadata: client.metadata))
                } line: { before, after in
                    before?.curation.readyToUse == true
                        ? "unpinned \(shortID(after.name)) from '\(before?.curation.category ?? "")'"
                        : "\(shortID(after.name)) was not pinned: nothing changed"
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Ready-to-use segments in curated order.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("category"), help: "Only this shelf (category).") var category = ""
            func run() async throws {
                try await runCommand {
                    let segments = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.segments.listReadyToUseSegments(
                            .with {
                                $0.parent = tenant
                                $0.category = category
                                $0.pageSize = 1000
                            }, metadata: client.metadata
                        ).segments
                    }
                    if connection.json { return try printJSON(segments) }
                    printTable(
                        ["CATEGORY", "#", "SEGMENT", "SIZE", "NOTE"],
                        segments.map {
                            [$0.curation.category, String($0.curation.position), shortID($0.name), String($0.size), $0.curation.note]
                        })
                }
            }
        }
    }
}

/// A timestamp for people (the shared `show` helper, under a name no command method shadows).
func timeText(_ timestamp: Google_Protobuf_Timestamp) -> String { show(timestamp) }
