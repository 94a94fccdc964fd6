import SegmentDomain
import SegmentRules
import SegmentStore

/// The values of one event property (a row per event) or one profile attribute
/// (a row per user index), in one typed array.
///
/// Only the array of the column's `type` is filled: strings and string lists
/// as codes into the column's ``StringDictionary``, numbers as `Double`, bools
/// as `Bool`, timestamps as microseconds since 1970 (``AudienceTime``). Whether
/// a row has the value at all is `present`, kept apart from the value so a
/// missing property never reads as 0, false or "" (rules treat not set
/// differently from every value: `!=` and `not in` need the value set).
/// Absent rows hold a filler (0, false, ``StringDictionary/none``).
public struct PropertyColumn: Sendable {
    /// The catalog type of the values.
    public let type: ValueType
    /// Rows that have a value.
    public private(set) var present = MemberBitmap()
    /// Rows in the column (present or not).
    public private(set) var count = 0

    /// `.string`: a code per row. `.stringList`: the items of every row, row after row.
    public private(set) var codes: [UInt32] = []
    /// `.stringList`: row `i`'s items are `codes[listStarts[i]..<listStarts[i + 1]]` (count + 1 entries).
    public private(set) var listStarts: [UInt32] = []
    /// The strings behind `codes`.
    public private(set) var dictionary = StringDictionary()
    /// `.number`: a value per row.
    public private(set) var numbers: [Double] = []
    /// `.bool`: a value per row.
    public private(set) var bools: [Bool] = []
    /// `.timestamp`: microseconds since 1970 per row.
    public private(set) var times: [Int64] = []

    public init(type: ValueType) {
        self.type = type
        if type == .stringList { listStarts = [0] }
    }

    // MARK: Building

    /// Appends the rows of a batch column (of this column's type).
    mutating func append(contentsOf values: AudienceValues) throws {
        guard values.type == type else { throw Self.typeChanged(from: type, to: values.type) }
        reserve(additional: values.count)
        switch values {
        case .strings(let column): for value in column { appendString(value) }
        case .numbers(let column): for value in column { appendNumber(value) }
        case .bools(let column): for value in column { appendBool(value) }
        case .times(let column): for value in column { appendTime(value) }
        case .lists(let column): for value in column { appendList(value) }
        }
    }

    /// Appends row `row` of a batch column (of this column's type).
    mutating func append(_ values: AudienceValues, row: Int) throws {
        guard values.type == type else { throw Self.typeChanged(from: type, to: values.type) }
        switch values {
        case .strings(let column): appendString(column[row])
        case .numbers(let column): appendNumber(column[row])
        case .bools(let column): appendBool(column[row])
        case .times(let column): appendTime(column[row])
        case .lists(let column): appendList(column[row])
        }
    }

    /// Appends absent rows until the column has `rows` rows (profile rows of users without a profile).
    mutating func pad(to rows: Int) {
        guard rows > count else { return }
        reserve(additional: rows - count)
        while count < rows {
            switch type {
            case .string: appendString(nil)
            case .number: appendNumber(nil)
            case .bool: appendBool(nil)
            case .timestamp: appendTime(nil)
            case .stringList: appendList(nil)
            }
        }
    }

    private mutating func reserve(additional: Int) {
        let wanted = count + additional
        switch type {
        case .string: if codes.capacity < wanted { codes.reserveCapacity(Swift.max(wanted, codes.capacity * 2)) }
        case .number: if numbers.capacity < wanted { numbers.reserveCapacity(Swift.max(wanted, numbers.capacity * 2)) }
        case .bool: if bools.capacity < wanted { bools.reserveCapacity(Swift.max(wanted, bools.capacity * 2)) }
        case .timestamp: if times.capacity < wanted { times.reserveCapacity(Swift.max(wanted, times.capacity * 2)) }
        case .stringList: if listStarts.capacity < wanted + 1 { listStarts.reserveCapacity(Swift.max(wanted + 1, listStarts.capacity * 2)) }
        }
    }

    private mutating func markPresent(_ isPresent: Bool) {
        if isPresent { present.insert(UInt32(count)) }
        count += 1
    }

    private mutating func appendString(_ value: String?) {
        codes.append(value.map { dictionary.intern($0) } ?? StringDictionary.none)
        markPresent(value != nil)
    }

    private mutating func appendNumber(_ value: Double?) {
        numbers.append(value ?? 0)
        markPresent(value != nil)
    }

    private mutating func appendBool(_ value: Bool?) {
        bools.append(value ?? false)
        markPresent(value != nil)
    }

    private mutating func appendTime(_ value: Int64?) {
        times.append(value ?? 0)
        markPresent(value != nil)
    }

    private mutating func appendList(_ value: [String]?) {
        for item in value ?? [] { codes.append(dictionary.intern(item)) }
        listStarts.append(UInt32(codes.count))
        markPresent(value != nil)
    }

    /// The column with its rows in `order` (row `i` becomes row `order[i]`'s value): events read
    /// in storage order are put in time order once loaded.
    func permuted(_ order: [UInt32]) -> PropertyColumn {
        var column = PropertyColumn(type: type)
        column.dictionary = dictionary
        column.count = order.count
        column.present = MemberBitmap(capacity: order.count)
        for (row, old) in order.enumerated() where present.contains(old) { column.present.insert(UInt32(row)) }
        switch type {
        case .string: column.codes = order.map { codes[Int($0)] }
        case .number: column.numbers = order.map { numbers[Int($0)] }
        case .bool: column.bools = order.map { bools[Int($0)] }
        case .timestamp: column.times = order.map { times[Int($0)] }
        case .stringList:
            column.codes.reserveCapacity(codes.count)
            column.listStarts.reserveCapacity(order.count + 1)
            for old in order {
                column.codes.append(contentsOf: items(Int(old)))
                column.listStarts.append(UInt32(column.codes.count))
            }
        }
        return column
    }

    /// Lets go of spare capacity once loading is done.
    mutating func shrink() {
        codes = codes.trimmed()
        listStarts = listStarts.trimmed()
        numbers = numbers.trimmed()
        bools = bools.trimmed()
        times = times.trimmed()
        present.trim()
    }

    private static func typeChanged(from old: ValueType, to new: ValueType) -> DomainError {
        DomainError(.internalError, "a column of \(old.rawValue) values was handed \(new.rawValue) values")
    }

    // MARK: Reading

    /// Row `row`'s value as a rule value, nil when absent (for tests, explanations and spot checks;
    /// evaluation reads the typed arrays).
    public subscript(row: Int) -> RuleValue? {
        guard row < count, present.contains(UInt32(row)) else { return nil }
        switch type {
        case .string: return .string(dictionary[codes[row]])
        case .number: return .number(numbers[row])
        case .bool: return .bool(bools[row])
        case .timestamp: return .time(AudienceTime.date(times[row]))
        case .stringList: return .list(items(row).map { dictionary[$0] })
        }
    }

    /// The codes of row `row` of a string list column.
    public func items(_ row: Int) -> ArraySlice<UInt32> {
        codes[Int(listStarts[row])..<Int(listStarts[row + 1])]
    }

    /// Bytes held by the column's arrays, presence bitmap and dictionary.
    public var bytesHeld: Int {
        present.bytesHeld + MemoryEstimate.bytes(of: codes) + MemoryEstimate.bytes(of: listStarts) + MemoryEstimate.bytes(of: numbers)
            + MemoryEstimate.bytes(of: bools) + MemoryEstimate.bytes(of: times) + dictionary.bytesHeld
    }
}
