import Foundation

/// One measured scenario, as kept in `benchmarks/results.json`.
struct BenchmarkResult: Codable {
    var scenario: String
    var unit: String
    var ours: Double
    var reference: Double
    var referenceName: String
    /// ours / reference for rates (higher is better for us).
    var ratio: Double
    var target: String
    var details: [String: String]
    /// The commit, command and day of the run that measured this row (rows
    /// from earlier runs keep theirs when another scenario is rerun).
    var commit: String?
    var command: String?
    var date: String?

    enum CodingKeys: String, CodingKey {
        case scenario, unit, ours, reference, ratio, target, details, commit, command, date
        case referenceName = "reference_name"
    }

    /// segmentd's peak resident memory in the scenario, from its details.
    var peakMemory: String {
        let keys = ["segmentd_peak_rss_mib", "segmentd_peak_after_export_mib"]
        return keys.lazy.compactMap { details[$0] }.first.map { "\($0) MiB" } ?? "—"
    }
}

/// The results file and the BENCHMARKS.md table, rewritten on every run
/// (a scenario's entry replaces the previous one).
struct BenchmarkReport: Codable {
    var machine: [String: String]
    var commit: String
    var command: String
    var results: [BenchmarkResult]

    static func machine() -> [String: String] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return ["cores": String(cores), "memory_gib": String(format: "%.1f", Double(memory) / 1_073_741_824), "cpu": cpu]
    }

    static func commit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["rev-parse", "--short", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Merges `result` into the files under `directory` (the repository root).
    static func record(_ result: BenchmarkResult, command: String, directory: String) throws {
        let jsonPath = directory + "/benchmarks/results.json"
        var report =
            (try? JSONDecoder().decode(BenchmarkReport.self, from: Data(contentsOf: URL(fileURLWithPath: jsonPath))))
            ?? BenchmarkReport(machine: [:], commit: "", command: "", results: [])
        report.machine = machine()
        report.commit = commit()
        report.command = command
        var result = result
        result.commit = report.commit
        result.command = command
        result.date = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        report.results.removeAll { $0.scenario == result.scenario }
        report.results.append(result)
        report.results.sort { $0.scenario < $1.scenario }
        try FileManager.default.createDirectory(atPath: directory + "/benchmarks", withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(report).write(to: URL(fileURLWithPath: jsonPath))
        try report.markdown().write(toFile: directory + "/BENCHMARKS.md", atomically: true, encoding: .utf8)
    }

    func markdown() -> String {
        var lines = [
            "# Benchmarks",
            "",
            "Written by `ops/bench` (do not edit by hand); the same figures are in `benchmarks/results.json`.",
            "",
            "Machine: \(machine["cores"] ?? "?") cores, \(machine["memory_gib"] ?? "?") GiB, \(machine["cpu"] ?? "?"). "
                + "Each row names the commit and command that measured it; `ops/bench SCENARIO` reruns one (a `_standard` "
                + "scenario is the same with `--size standard`). Memory is segmentd's peak resident set during the scenario.",
            "",
            "| scenario | ours | reference | ratio | target | segmentd memory | measured by | details |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for result in results {
            let details = result.details.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            // Rates read best whole; scores such as an AUC need their decimals.
            let format = result.ours < 10 ? "%.4f" : "%.0f"
            lines.append(
                String(
                    format: "| %@ | \(format) %@ | \(format) %@ (%@) | %.2f× | %@ | %@ | %@ | %@ |", result.scenario, result.ours, result.unit,
                    result.reference, result.unit, result.referenceName, result.ratio, result.target, result.peakMemory,
                    measuredBy(result), details))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// "`commit` · `command` · date" of a row (rows measured before rows kept their own: the file's last run's commit is not theirs).
    func measuredBy(_ result: BenchmarkResult) -> String {
        guard let commit = result.commit, let command = result.command else { return "an earlier run (see git log of this file)" }
        return "`\(commit)` · `\(command)` · \(result.date ?? "")"
    }
}

/// Peak resident memory of a process (VmHWM), in MiB.
func peakResidentMiB(pid: Int32) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "")
    else { return nil }
    return kib / 1024
}
