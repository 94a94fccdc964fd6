import Foundation
import SegmentDomain
import SegmentStore
import Testing

@testable import SegmentEngine

@Suite("Job queue gauges from one sample")
struct JobMetricsSamplerTests {
    static let now = Date(timeIntervalSince1970: 1_795_617_000)

    func value(_ values: [JobMetricsSampler.Value], _ label: String, _ dimensions: [String: String]) -> Double? {
        values.first { $0.label == label && $0.dimensions == dimensions }?.value
    }

    @Test("every kind and state is written, zeros included; the oldest wait is the earliest due time across queued and retrying")
    func values() {
        let depths = [
            JobQueueDepth(kind: .refresh, state: .queued, count: 3, oldestDueAt: Self.now.addingTimeInterval(-40)),
            JobQueueDepth(kind: .refresh, state: .retrying, count: 2, oldestDueAt: Self.now.addingTimeInterval(-90)),
            JobQueueDepth(kind: .refresh, state: .running, count: 1, oldestDueAt: nil),
            // Queued but not yet due (a future run_at): counted, no wait.
            JobQueueDepth(kind: .export, state: .retrying, count: 1, oldestDueAt: nil),
        ]
        let values = JobMetricsSampler.values(depths, now: Self.now)
        #expect(values.count == JobKind.allCases.count * 4)
        #expect(value(values, "segmentd_jobs", ["kind": "refresh", "state": "queued"]) == 3)
        #expect(value(values, "segmentd_jobs", ["kind": "refresh", "state": "retrying"]) == 2)
        #expect(value(values, "segmentd_jobs", ["kind": "refresh", "state": "running"]) == 1)
        #expect(value(values, "segmentd_jobs", ["kind": "export", "state": "retrying"]) == 1)
        #expect(value(values, "segmentd_jobs", ["kind": "train", "state": "queued"]) == 0)
        #expect(value(values, "segmentd_jobs_oldest_queued_age_seconds", ["kind": "refresh"]) == 90)
        #expect(value(values, "segmentd_jobs_oldest_queued_age_seconds", ["kind": "export"]) == 0)
        #expect(value(values, "segmentd_jobs_oldest_queued_age_seconds", ["kind": "sync"]) == 0)
    }
}
