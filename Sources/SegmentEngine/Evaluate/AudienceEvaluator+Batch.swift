import SegmentRules

extension AudienceEvaluator {
    /// What refreshing several segments together computed.
    public struct BatchResult: Sendable {
        /// Each segment's members, by id.
        public var members: [String: MemberBitmap]
        /// Distinct conditions and groups evaluated.
        public var evaluated: Int
        /// Conditions and groups found already evaluated (shared between segments, or repeated in one rule).
        public var reused: Int
    }

    /// The members of several segments refreshed together (a schedule tick, a
    /// `refresh_many`): each distinct condition or group is evaluated once and
    /// reused, and segments are evaluated in dependency order so a reference to a
    /// segment of the batch reads the members just computed for it.
    public func members(of batch: [(id: String, rule: Rule)]) -> BatchResult {
        var evaluator = self
        var memo: [Rule: MemberBitmap] = [:]
        var result = BatchResult(members: [:], evaluated: 0, reused: 0)
        for (id, rule) in Self.dependencyOrder(batch) {
            let members = evaluator.withOverlay(rule, columns: evaluator.members(rule, memo: &memo, counts: &result))
            result.members[id] = members
            evaluator.segments[id] = members
            // A reference to this segment evaluated before now (by a segment outside its
            // dependents) would be stale; dependency order means there is none, but be exact.
            memo = memo.filter { !SegmentReferences.referenced(by: $0.key).contains(id) }
        }
        return result
    }

    private func members(_ rule: Rule, memo: inout [Rule: MemberBitmap], counts: inout BatchResult) -> MemberBitmap {
        if let known = memo[rule] {
            counts.reused += 1
            return known
        }
        let value = members(rule, child: { members($0, memo: &memo, counts: &counts) })
        counts.evaluated += 1
        memo[rule] = value
        return value
    }

    /// The batch with every segment after the segments of the batch it references
    /// (input order otherwise). Cycles cannot be saved, so every segment is placed.
    static func dependencyOrder(_ batch: [(id: String, rule: Rule)]) -> [(id: String, rule: Rule)] {
        let ids = Set(batch.map(\.id))
        var placed: Set<String> = []
        var ordered: [(id: String, rule: Rule)] = []
        var remaining = batch
        while !remaining.isEmpty {
            let before = ordered.count
            remaining.removeAll { entry in
                let waiting = SegmentReferences.referenced(by: entry.rule).contains { ids.contains($0) && $0 != entry.id && !placed.contains($0) }
                guard !waiting else { return false }
                ordered.append(entry)
                placed.insert(entry.id)
                return true
            }
            // A cycle (which saving refuses) would stall the loop: take the rest as they come.
            if ordered.count == before {
                ordered += remaining
                break
            }
        }
        return ordered
    }
}
