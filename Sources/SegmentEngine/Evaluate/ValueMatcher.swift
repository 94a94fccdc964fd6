import Foundation
import SegmentRules
import SegmentStore

/// One value test compiled against one column (an event property or a profile
/// attribute): whether row `i` passes, reading the column's typed arrays.
///
/// The test's own `matches` decides every value, so the meaning is the
/// single-user evaluator's by construction; strings are decided once per
/// dictionary code (a handful), not once per row.
struct ValueMatcher {
    private let column: PropertyColumn?
    private let test: ValueTest
    private let now: Date
    /// What an absent value (or an absent column) gives: only `is not set` holds.
    let absentMatches: Bool
    /// For string columns: the result for each dictionary code.
    private let codeMatches: [Bool]

    init(column: PropertyColumn?, test: ValueTest, now: Date) {
        self.column = column
        self.test = test
        self.now = now
        absentMatches = test.matches(nil, now: now)
        if let column, column.type == .string {
            codeMatches = column.dictionary.strings.map { test.matches(.string($0), now: now) }
        } else {
            codeMatches = []
        }
    }

    /// Whether row `row` passes.
    func matches(_ row: Int) -> Bool {
        guard let column, row < column.count, column.present.contains(UInt32(row)) else { return absentMatches }
        switch column.type {
        case .string: return codeMatches[Int(column.codes[row])]
        case .number: return test.matches(.number(column.numbers[row]), now: now)
        case .bool: return test.matches(.bool(column.bools[row]), now: now)
        case .timestamp: return test.matches(.time(AudienceTime.date(column.times[row])), now: now)
        case .stringList: return test.matches(.list(column.items(row).map { column.dictionary[$0] }), now: now)
        }
    }

    /// Rows that have a value (the only ones that can pass unless `absentMatches`).
    var present: MemberBitmap { column?.present ?? MemberBitmap() }
}
