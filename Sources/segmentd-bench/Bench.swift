import ArgumentParser
import Foundation

/// Benchmarks of a running segmentd against reference engines, writing
/// `benchmarks/results.json` and `BENCHMARKS.md`. Run through `ops/bench`.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segmentd-bench",
        abstract: "Benchmark a running segmentd (started by ops/bench) against reference engines.",
        subcommands: [
            IngestBenchmark.self, ExportBenchmark.self, PredictiveBenchmark.self, RefreshBenchmark.self, MembershipBenchmark.self,
            RealtimeFreshnessBenchmark.self,
        ])
}
