import Foundation
import Metrics
import Prometheus
import SegmentServer
import Testing

@Suite("Every metric segmentd exports has help")
struct SegmentdMetricsFactoryTests {
    @Test("metrics made through the factory carry their one line of help, for every kind of metric")
    func helpLines() {
        let registry = PrometheusCollectorRegistry()
        let factory = SegmentdMetricsFactory(registry: registry)
        // Through the factory directly: the global MetricsSystem is not bootstrapped in tests.
        factory.makeCounter(label: "segmentd_rpc_requests_total", dimensions: [("method", "m"), ("code", "OK")]).increment(by: 1)
        factory.makeCounter(label: "segmentd_rpc_requests_total", dimensions: [("method", "m"), ("code", "NOT_FOUND")]).increment(by: 1)
        factory.makeTimer(label: "segmentd_rpc_duration_seconds", dimensions: [("method", "m")]).recordNanoseconds(5_000_000)
        factory.makeRecorder(label: "segmentd_jobs", dimensions: [("kind", "refresh"), ("state", "queued")], aggregate: false).record(Int64(2))
        factory.makeMeter(label: "segmentd_db_connections_in_use", dimensions: []).set(Int64(1))
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        for name in ["segmentd_rpc_requests_total", "segmentd_rpc_duration_seconds", "segmentd_jobs", "segmentd_db_connections_in_use"] {
            let help = try? #require(SegmentdMetricsFactory.help[name])
            #expect(text.components(separatedBy: "# HELP \(name) \(help ?? "")\n").count == 2, "one HELP line for \(name) in \(text)")
        }
        #expect(text.contains(#"segmentd_jobs{kind="refresh",state="queued"} 2.0"#), "\(text)")
    }

    @Test("the help table names every metric label in Sources, and nothing else")
    func tableCoversSources() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Sources").standardized
        let files = try #require(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        var labels = Set<String>()
        let pattern = try Regex(#"label: "(segmentd_[a-z_]+)""#)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: pattern) {
                if let name = match.output[1].substring { labels.insert(String(name)) }
            }
        }
        #expect(labels.count >= 10, "\(labels)")
        #expect(
            labels == Set(SegmentdMetricsFactory.help.keys),
            "missing: \(labels.subtracting(SegmentdMetricsFactory.help.keys).sorted()); unused: \(Set(SegmentdMetricsFactory.help.keys).subtracting(labels).sorted())"
        )
        #expect(SegmentdMetricsFactory.help.values.allSatisfy { !$0.isEmpty && !$0.contains("\n") })
    }
}
