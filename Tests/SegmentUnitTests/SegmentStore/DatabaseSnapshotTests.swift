import Foundation
import SegmentStore
import Testing

/// `pg_snapshot` text read the way `pg_visible_in_snapshot` reads it: the engine decides
/// with it whether a state already holds a batch its ingest committed.
@Suite("DatabaseSnapshot: which transactions a pg_snapshot sees")
struct DatabaseSnapshotTests {
    @Test("below xmin seen, at or above xmax not, the running list not, the rest seen")
    func visibility() throws {
        let snapshot = try #require(DatabaseSnapshot("100:110:102,105"))
        #expect(snapshot.xmin == 100 && snapshot.xmax == 110 && snapshot.running == [102, 105])
        #expect(snapshot.sees(99) && snapshot.sees(100) && snapshot.sees(101) && snapshot.sees(109))
        #expect(!snapshot.sees(102) && !snapshot.sees(105) && !snapshot.sees(110) && !snapshot.sees(4_000_000_000))
        let idle = try #require(DatabaseSnapshot("5000000000:5000000000:"))
        #expect(idle.running.isEmpty && idle.sees(4_999_999_999) && !idle.sees(5_000_000_000))
    }

    @Test("anything else is not a snapshot")
    func rejects() {
        for text in ["", "1:2", "a:2:", "1:2:3,x", "1:2:3:4"] { #expect(DatabaseSnapshot(text) == nil, "\(text)") }
    }
}
