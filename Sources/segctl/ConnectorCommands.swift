import ArgumentParser
import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient

extension Segctl.Segments {
    static func printSync(_ result: Segmentd_V1_SyncResult, json: Bool) throws {
        if json { return try printJSON(result) }
        if result.notModified {
            print("not modified: the source file is unchanged; \(result.size) members")
            return
        }
        print("\(result.connectorCount) ids: \(result.matchedCount) matched known users, \(result.unmatchedCount) unknown")
        if !result.unmatchedSample.isEmpty { print("unknown ids (sample): \(result.unmatchedSample.joined(separator: ", "))") }
        print("members: \(result.size) (+\(result.entered) entered, -\(result.exited) exited)")
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a CSV or NDJSON file of user ids into a connector segment (connectors.manage).",
            discussion: """
                CSV: a user_id column (with a header), or one id per line. NDJSON: {"user_id": "..."} per line.
                Ids unknown to Segmentd are counted and sampled, not dropped silently: they become members once those users exist
                and the segment refreshes. Rerunning with the same --sync-id changes nothing.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Argument(help: "The file (.csv or .ndjson; - for standard input).") var file: String
        @Option(name: .customLong("format"), help: "csv or ndjson (default: from the file name, else csv).") var format: String?
        @Flag(name: .customLong("replace"), help: "The file is the whole membership (default: add to it).") var replace = false
        @Option(name: .customLong("sync-id"), help: "Id of this import; a retry with the same id changes nothing (default: new each run).")
        var syncID: String?

        func run() async throws {
            let path = file
            let format = format ?? (path.hasSuffix(".ndjson") || path.hasSuffix(".jsonl") ? "ndjson" : "csv")
            guard format == "csv" || format == "ndjson" else { throw ValidationError("--format: csv or ndjson") }
            guard let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            let total = path == "-" ? 0 : Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            let syncID = syncID ?? "segctl-import-\(UUID().uuidString.lowercased())"
            let replace = replace
            let id = id
            try await runCommand {
                let progress = Progress(total: total, unit: "bytes")
                let result = try await connection.withConnection { client in
                    let segment = Segctl.Segments.name(try await client.callerTenant(), id)
                    return try await client.connectors.importMembers(metadata: client.metadata) { writer in
                        var sent = 0
                        var first = true
                        while let data = try handle.read(upToCount: 256 * 1024), !data.isEmpty {
                            try await writer.write(
                                .with {
                                    if first {
                                        $0.segment = segment
                                        $0.format = format
                                        $0.replace = replace
                                        $0.syncID = syncID
                                    }
                                    $0.data = data
                                })
                            first = false
                            sent += data.count
                            progress.update(sent)
                        }
                        if first {
                            try await writer.write(
                                .with {
                                    $0.segment = segment
                                    $0.format = format
                                    $0.replace = replace
                                    $0.syncID = syncID
                                })
                        }
                        progress.finish(sent)
                    }
                }
                try Segctl.Segments.printSync(result, json: connection.json)
            }
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or remove user ids in a PUSH connector segment, as an external tool's sync would (connectors.manage).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Argument(help: "User ids (at most 10,000).") var users: [String]
        @Flag(name: .customLong("remove"), help: "Remove the ids (default: add).") var remove = false
        @Option(name: .customLong("sync-id"), help: "Id of this batch; a retry with the same id changes nothing (default: new each run).") var syncID:
            String?

        func run() async throws {
            let syncID = syncID ?? "segctl-\(UUID().uuidString.lowercased())"
            let (users, remove, id) = (users, remove, id)
            try await runCommand {
                let result = try await connection.withConnection { client in
                    let segment = Segctl.Segments.name(try await client.callerTenant(), id)
                    let named = Segmentd_V1_ChangeMembersRequest.with {
                        $0.segment = segment
                        $0.syncID = syncID
                        $0.userIds = users
                    }
                    return remove
                        ? try await client.connectors.removeMembers(named, metadata: client.metadata)
                        : try await client.connectors.addMembers(named, metadata: client.metadata)
                }
                try Segctl.Segments.printSync(result, json: connection.json)
            }
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pull a PULL connector's URL now (connectors.manage); --wait follows it to the end.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Flag(name: .customLong("wait"), help: "Follow the pull until it is done; exit 1 unless it succeeded.") var wait = false
        func run() async throws {
            let final = try await Segctl.Jobs.start(connection, segment: id, wait: wait) { client, name in
                try await client.connectors.syncNow(.with { $0.segment = name }, metadata: client.metadata)
            }
            if wait, !connection.json, case .sync(let result)? = final.result { try Segctl.Segments.printSync(result, json: false) }
        }
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a predictive segment's model and rescore every user (predictive.manage); --wait follows it.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Flag(name: .customLong("wait"), help: "Follow the training until it is done; exit 1 unless it succeeded.") var wait = false
        func run() async throws {
            _ = try await Segctl.Jobs.start(connection, segment: id, wait: wait) { client, name in
                try await client.predictive.trainModel(.with { $0.segment = name }, metadata: client.metadata)
            }
        }
    }

    struct Model: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a predictive segment's model card: goal, data, AUC, calibration, weights, thresholds.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The segment id (or its full name).") var id: String
        @Option(name: .customLong("weights"), help: "How many feature weights to list (default 10).") var weights = 10
        func run() async throws {
            try await runCommand {
                let card = try await connection.withConnection { client in
                    let name = Segctl.Segments.name(try await client.callerTenant(), id) + "/model"
                    return try await client.predictive.getModelCard(.with { $0.name = name }, metadata: client.metadata)
                }
                if connection.json { return try printJSON(card) }
                let config = card.config
                let goal = config.goal == .churn ? "stop performing \(config.event)" : "perform \(config.event)"
                let lines = [
                    ("model", card.name),
                    ("goal", "likelihood to \(goal) within \(config.horizonDays) days; members: \("\(config.bucket)".lowercased()) bucket"),
                    ("algorithm", card.algorithm), ("trained", timeText(card.trainTime)),
                    (
                        "training",
                        "features before \(timeText(card.cutoffTime)) (from \(timeText(card.trainingWindowStart))), labels in the \(config.horizonDays) days after"
                    ),
                    ("data", "\(card.trainingUsers) users trained on, \(card.positiveUsers) positive; \(card.scoredUsers) users scored"),
                    ("holdout AUC", String(format: "%.3f", card.holdoutAuc)),
                    (
                        "thresholds",
                        String(format: "high ≥ %.4f (top 20%%), medium ≥ %.4f (next 30%%), low below", card.highThreshold, card.mediumThreshold)
                    ),
                ]
                for (key, value) in lines { print("\(key.padding(toLength: 12, withPad: " ", startingAt: 0)) \(value)") }
                print("calibration (holdout): predicted → observed (users)")
                for bin in card.calibration { print(String(format: "  %.3f → %.3f (%lld)", bin.predicted, bin.observed, bin.count)) }
                print("weights (standardised features, strongest first):")
                for weight in card.weights.prefix(weights) { print(String(format: "  %+.3f  %@", weight.weight, weight.feature)) }
            }
        }
    }
}
