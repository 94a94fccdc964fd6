import ArgumentParser
import Foundation
import GRPCCore
import Logging
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient

/// Scenario "predictive": model quality, not speed. The demo data set (whose
/// users each have a fixed activity rate drawn once — the planted signal —
/// so the past predicts who buys next) is loaded through the API; a CONVERT
/// segment on `purchase` is trained by segmentd; then the very same feature
/// rows (same features, cutoff, sample and holdout split) are written to CSV
/// and scikit-learn's LogisticRegression and HistGradientBoostingClassifier
/// are trained on them by `benchmarks/predictive_reference.py`. Their holdout
/// AUCs stand next to ours.
struct PredictiveBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predictive", abstract: "Holdout AUC of segmentd's model next to scikit-learn's on the same features.")

    @Option(help: "segmentd's data directory (segctl.json, the embedded PostgreSQL's socket).") var home: String
    @Option(help: "Demo users.") var users = 20_000
    @Option(help: "Days of demo data.") var days = 90
    @Option(help: "The horizon in days.") var horizonDays = 14
    @Option(help: "segmentd's process id, for its memory.") var pid: Int32?
    @Option(help: "Repository root, where the results are written.") var repository = FileManager.default.currentDirectoryPath
    @Option(help: "The command line to record with the results.") var command = "ops/bench predictive"
    @Option(help: "The Python with scikit-learn (ops/bench makes a virtual environment).") var python = "python3"

    func run() async throws {
        guard let file = try ClientSettings.File.read(home + "/" + ClientSettings.File.fileName), let key = file.apiKey else {
            throw ValidationError("no segctl.json with a key in \(home): start segmentd there first (ops/bench does)")
        }
        let settings = ClientSettings(address: file.address, caPath: file.ca, apiKey: key)
        let tenant = try await SegmentdConnection.with(settings) { try await $0.callerTenant() }
        let tenantID = TenantID(String(tenant.dropFirst("tenants/".count)))!

        try DemoDataOptions.seed(.init(users: users, days: days), home: home)

        print("training in segmentd…")
        let started = ContinuousClock.now
        let card = try await SegmentdConnection.with(settings) { connection -> Segmentd_V1_ModelCard in
            _ = try await connection.segments.createSegment(
                .with {
                    $0.parent = tenant
                    $0.segmentID = "bench_likely_buyers"
                    $0.segment = .with {
                        $0.kind = .predictive
                        $0.predictive = .with {
                            $0.goal = .convert
                            $0.event = "purchase"
                            $0.horizonDays = Int32(horizonDays)
                            $0.bucket = .high
                        }
                        $0.schedule.manual = true
                    }
                }, metadata: connection.metadata)
            let operation = try await connection.predictive.trainModel(
                .with { $0.segment = "\(tenant)/segments/bench_likely_buyers" }, metadata: connection.metadata)
            let final = try await connection.wait(operation: operation.name)
            guard final.state == .succeeded else { throw ValidationError("training ended \(final.state): \(final.error.message)") }
            return try await connection.predictive.getModelCard(
                .with { $0.name = "\(tenant)/segments/bench_likely_buyers/model" }, metadata: connection.metadata)
        }
        let trainSeconds = ExportBenchmark.seconds(ContinuousClock.now - started)
        print(
            String(
                format: "segmentd: holdout AUC %.4f (%lld users trained on, %lld positive, %lld scored) in %.1f s",
                card.holdoutAuc, card.trainingUsers, card.positiveUsers, card.scoredUsers, trainSeconds))

        print("writing the same feature rows for scikit-learn…")
        let csv = NSTemporaryDirectory() + "segmentd-bench-features.csv"
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let database = Database(
            settings: DatabaseSettings.unixSocket(directory: home + "/postgres/run", username: "postgres", database: "segmentd"), logger: logger)
        let rows = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                await database.run()
                return -1
            }
            let store = PredictiveStore(database: database)
            let (_, model, _) = try await store.model(tenant: tenantID, segmentID: "bench_likely_buyers")
            let settings = PredictiveSettings(goal: .convert, event: "purchase", horizonDays: horizonDays, bucket: .high)
            let population = try await store.population(tenant: tenantID, spec: model.spec, settings: settings, cutoff: card.cutoffTime.date)
            let sample =
                population.users > Int64(TrainHandler.maxTrainingUsers) ? max(1, Int64(TrainHandler.maxTrainingUsers) * 1000 / population.users) : nil
            FileManager.default.createFile(atPath: csv, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: csv))
            try handle.write(contentsOf: Data((["user_index", "holdout", "label"] + model.spec.names).joined(separator: ",").appending("\n").utf8))
            var count = 0
            try await store.rows(
                tenant: tenantID, spec: model.spec, settings: settings, cutoff: card.cutoffTime.date, withLabel: true, samplePerMille: sample
            ) { row in
                let line =
                    ([String(row.userIndex), TrainHandler.isHoldout(row.userIndex) ? "1" : "0", row.label ? "1" : "0"]
                    + row.features.map { String($0) })
                    .joined(separator: ",") + "\n"
                try handle.write(contentsOf: Data(line.utf8))
                count += 1
            }
            try handle.close()
            group.cancelAll()
            return count
        }
        print("\(rows) rows; running scikit-learn…")
        let output = try Self.runTool(python, [repository + "/benchmarks/predictive_reference.py", csv], environment: [:])
        guard let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
            let lr = json["logistic_regression_auc"] as? Double, let hgb = json["hist_gradient_boosting_auc"] as? Double
        else { throw ValidationError("unexpected output from the reference script: \(output)") }
        let best = max(lr, hgb)
        print(
            String(
                format: "scikit-learn: LogisticRegression %.4f, HistGradientBoosting %.4f; segmentd %.4f (%+.4f against the better)",
                lr, hgb, card.holdoutAuc, card.holdoutAuc - best))
        var details = [
            "users": String(users), "days": String(days), "horizon_days": String(horizonDays), "feature_rows": String(rows),
            "features": String(card.weights.count), "training_users": String(card.trainingUsers), "positive_users": String(card.positiveUsers),
            "sklearn_logistic_regression_auc": String(format: "%.4f", lr), "sklearn_hist_gradient_boosting_auc": String(format: "%.4f", hgb),
            "difference_to_better": String(format: "%+.4f", card.holdoutAuc - best),
            "segmentd_train_and_score_seconds": String(format: "%.1f", trainSeconds),
            "sklearn_versions": json["versions"] as? String ?? "",
        ]
        if let pid, let peak = peakResidentMiB(pid: pid) { details["segmentd_peak_rss_mib"] = String(format: "%.0f", peak) }
        try BenchmarkReport.record(
            BenchmarkResult(
                scenario: "predictive", unit: "AUC", ours: card.holdoutAuc, reference: best,
                referenceName: "the better of scikit-learn LogisticRegression / HistGradientBoostingClassifier", ratio: card.holdoutAuc / best,
                target: "holdout AUC within 0.02 of the better (issue 8)", details: details),
            command: command, directory: repository)
        print("wrote \(repository)/benchmarks/results.json and BENCHMARKS.md")
        try? FileManager.default.removeItem(atPath: csv)
    }

    /// Runs a tool, failing with its error output; returns its standard output.
    @discardableResult
    static func runTool(_ path: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path.hasPrefix("/") ? path : "/usr/bin/env")
        process.arguments = path.hasPrefix("/") ? arguments : [path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(path) exited with \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self).suffix(2000))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
