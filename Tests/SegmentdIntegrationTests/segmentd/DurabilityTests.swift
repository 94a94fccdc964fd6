import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

@Suite("Durability of acknowledged batches", .serialized, .timeLimit(.minutes(10)))
struct DurabilityTests {
    @Test("kill -9 segmentd while batches stream in: after a restart every acknowledged record is there")
    func killNineAfterAcks() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdkill")
        defer { try? FileManager.default.removeItem(atPath: home) }
        var segmentd = try SegmentdProcess(home: home)
        var settings = try await segmentd.waitUntilServing()
        let acknowledged = LockedList()
        let killer = segmentd
        // Send batches from one stream of work until the server dies under us.
        do {
            try await SegmentdConnection.with(settings) { connection in
                for batch in 0..<10_000 {
                    let events = (0..<200).map { index in
                        Segmentd_V1_Event.make("u\(index % 50)", "app_open", id: "b\(batch)-\(index)", ["n": .number(Double(index))])
                    }
                    _ = try await connection.ingestion.ingestEvents(
                        .with {
                            $0.parent = "tenants/default"
                            $0.events = events
                        }, metadata: connection.metadata)
                    acknowledged.append(batch)
                    if batch == 15 { killer.send(SIGKILL) }
                }
            }
        } catch {
            // Expected once the server is killed mid-stream; anything earlier is a failure.
            if acknowledged.values.count < 16 { Issue.record("ingest failed before the kill: \(error)") }
            killer.send(SIGKILL)
        }
        #expect(try await segmentd.waitForExit() == 128 + SIGKILL)
        let acked = acknowledged.values
        #expect(acked.count >= 16)

        // Restart on the same data directory (the embedded PostgreSQL may still run; it is reused or restarted).
        segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        settings = try await segmentd.waitUntilServing()
        var key = settings
        key.apiKey = try ClientSettings.File.read(home + "/segctl.json")?.apiKey
        let missing = try await SegmentdConnection.with(key) { connection -> [String] in
            var missing: [String] = []
            for batch in acked {
                // Replaying an acknowledged batch must find every event already stored.
                let events = (0..<200).map { index in
                    Segmentd_V1_Event.make("u\(index % 50)", "app_open", id: "b\(batch)-\(index)", ["n": .number(Double(index))])
                }
                let replay = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/default"
                        $0.events = events
                    }, metadata: connection.metadata)
                if replay.accepted != 0 { missing.append("batch \(batch): \(replay.accepted) events were lost") }
            }
            return missing
        }
        #expect(missing.isEmpty, "\(missing)")
        segmentd.send(SIGTERM)
        #expect(try await segmentd.waitForExit() == 0)
    }
}

/// A list appended to from one task and read from another.
final class LockedList: Sendable {
    private let items = Mutex<[Int]>([])
    func append(_ item: Int) { items.withLock { $0.append(item) } }
    var values: [Int] { items.withLock { $0 } }
}
