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

    enum CodingKeys: String, CodingKey {
        case scenario, unit, ours, reference, ratio, target, details
        case referenceName = "reference_name"
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
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
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
        var report = (try? JSONDecoder().decode(BenchmarkReport.self, from: Data(contentsOf: URL(fileURLWithPath: jsonPath))))
            ?? BenchmarkReport(machine: [:], commit: "", command: "", results: [])
        report.machine = machine()
        report.commit = commit()
        report.command = command
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
            "Machine: \(machine["cores"] ?? "?") cores, \(machine["memory_gib"] ?? "?") GiB, \(machine["cpu"] ?? "?"). Commit `\(commit)`. Command: `\(command)`.",
            "",
            "| scenario | ours | reference | ratio | target | details |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for result in results {
            let details = result.details.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            // Rates read best whole; scores such as an AUC need their decimals.
            let format = result.ours < 10 ? "%.4f" : "%.0f"
            lines.append(String(
                format: "| %@ | \(format) %@ | \(format) %@ (%@) | %.2f× | %@ | %@ |", result.scenario, result.ours, result.unit,
                result.reference, result.unit, result.referenceName, result.ratio, result.target, details))
        }
        return lines.joined(separator: "\n") + "\n"
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
