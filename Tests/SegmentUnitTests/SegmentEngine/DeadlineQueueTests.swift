import Foundation
import Testing

@testable import SegmentEngine

@Suite("DeadlineQueue: one entry per user, moved rather than duplicated, popped in time order")
struct DeadlineQueueTests {
    @Test("rescheduling moves a user's entry; removing drops it; due entries come out earliest first")
    func order() {
        var queue = DeadlineQueue()
        let base = Date(timeIntervalSince1970: 1_795_615_200)
        var generator = SystemRandomNumberGenerator()
        var expected: [UInt32: Date] = [:]
        for round in 0..<2_000 {
            let user = UInt32.random(in: 0..<300, using: &generator)
            if round % 7 == 0 {
                queue.remove(user)
                expected[user] = nil
            } else {
                let instant = base.addingTimeInterval(Double.random(in: 0..<1_000, using: &generator))
                queue.schedule(user, at: instant)
                expected[user] = instant
            }
            #expect(queue.count == expected.count)
        }
        for (user, instant) in expected { #expect(queue.deadline(of: user) == instant) }
        let cut = base.addingTimeInterval(500)
        var popped: [(Date, UInt32)] = []
        while let entry = queue.popDue(at: cut) { popped.append((entry.instant, entry.user)) }
        #expect(popped.map(\.0) == popped.map(\.0).sorted())
        #expect(Set(popped.map(\.1)) == Set(expected.filter { $0.value <= cut }.keys))
        #expect(queue.count == expected.filter { $0.value > cut }.count)
        #expect(queue.earliest.map { $0 > cut } ?? true)
        queue.schedule(1, at: nil)
        #expect(queue.deadline(of: 1) == nil)
    }
}
