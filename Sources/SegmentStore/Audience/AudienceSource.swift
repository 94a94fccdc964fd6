import Foundation
import Logging
import PostgresNIO
import SegmentDomain
import SegmentRules

/// Reads everything the audience engine evaluates rules over, for one tenant,
/// in bulk: users, events per type, profiles (typed attributes and the last
/// location), tags and campaign responses.
///
/// One read-only REPEATABLE READ transaction scoped to the tenant, so every
/// query sees the same snapshot (a batch ingested meanwhile is in all of it or
/// none of it) and row-level security keeps other tenants out. Rows come in
/// chunks of about `batchSize`, each one row of arrays (``ArrayColumn``), and
/// reach the sink chunk by chunk, so memory stays at one chunk besides what
/// the sink keeps.
///
/// PostgreSQL does the JSON work: each property or attribute comes out as a
/// typed column (the catalog's type, the same typed reading the SQL compiler
/// uses), never as JSON text to parse in Swift. Events come per type in time
/// order (the `events_by_name` index), responses per campaign and kind in time
/// order (`campaign_responses_by_campaign`), tags per tag in user order (the
/// primary key), so the engine appends and never sorts. Event types and their
/// properties are the catalog's (ingest records them in the batch's own
/// transaction, so the snapshot's catalog covers the snapshot's events).
///
/// The `locations` history is not read: location rules test the last location,
/// which the profile row carries.
public struct AudienceSource: Sendable {
    public let database: Database
    /// Rows per batch handed to the sink.
    public var batchSize: Int
    /// How events are read.
    public var eventScan: EventScan

    /// How events are read: one pass over the table in storage order, or each type by its index in time order.
    public enum EventScan: Sendable, CaseIterable {
        /// One pass when the tenant holds at least a quarter of the table's events (or the
        /// table has no statistics yet); by type otherwise, so a small tenant of a shared
        /// table does not read everyone's rows.
        case automatic
        /// Every event of the table once, in storage order, block range by block range (a
        /// TID range scan): each page is read once for all types, where reading type by type
        /// read most pages once per type and sorted each type (the standard data set's 20
        /// types made the load 16× the quick one's for 10× the events). The engine sorts by time.
        case onePass
        /// Each type in time order by the `events_by_name` index, in time ranges of about a batch.
        case byType
    }

    public init(database: Database, batchSize: Int = 32768, eventScan: EventScan = .automatic) {
        self.database = database
        self.batchSize = max(1, batchSize)
        self.eventScan = eventScan
    }

    /// What a read saw besides the rows.
    public struct Snapshot: Sendable {
        /// The tenant's catalog in the snapshot (attribute and property types; names).
        public var catalog: RuleCatalog
        /// When the snapshot was taken (the transaction's start, by the database clock).
        public var takenAt: Date
        /// The database snapshot itself (`pg_snapshot` text): which transactions the read saw,
        /// so a refresh can tell whether anything committed since (``AudienceChanges``).
        public var databaseSnapshot: String
        public init(catalog: RuleCatalog, takenAt: Date, databaseSnapshot: String = "") {
            self.catalog = catalog
            self.takenAt = takenAt
            self.databaseSnapshot = databaseSnapshot
        }
    }

    /// Reads `tenant`'s data into `sink`.
    /// - Throws: `DomainError` (`limitExceeded` when a user index does not fit in `UInt32`).
    public func read<Sink: AudienceSink>(tenant: TenantID, into sink: inout Sink) async throws -> Snapshot {
        let batchSize = batchSize
        let logger = database.logger
        return try await database.withTenantSnapshot(tenant) { connection in
            let reader = Reader(connection: connection, logger: logger, batchSize: batchSize)
            let eventScan = eventScan
            var takenAt = Date()
            var databaseSnapshot = ""
            for try await (now, snapshot) in try await connection.query(
                "SELECT now(), pg_current_snapshot()::text", logger: logger
            ).decode((Date, String).self) {
                (takenAt, databaseSnapshot) = (now, snapshot)
            }
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            try await reader.users(into: &sink)
            let onePass = try await reader.readsInOnePass(eventScan)
            if onePass {
                try await reader.eventsInOnePass(catalog: catalog, into: &sink)
            } else {
                for name in catalog.events.sorted() {
                    let fields = Self.fields(catalog.properties[name] ?? [:])
                    try await reader.events(name, fields: fields, into: &sink)
                }
            }
            try sink.finishedEvents()
            try await reader.profiles(fields: Self.fields(catalog.attributes), into: &sink)
            try await reader.tags(into: &sink)
            if onePass {
                try await reader.responsesInOnePass(into: &sink)
            } else {
                try await reader.responses(into: &sink)
            }
            return Snapshot(catalog: catalog, takenAt: takenAt, databaseSnapshot: databaseSnapshot)
        }
    }

    /// Fields in name order, so column positions are stable.
    static func fields(_ types: [String: ValueType]) -> [AudienceRows.Field] {
        types.sorted { $0.key < $1.key }.map { AudienceRows.Field(name: $0.key, type: $0.value) }
    }
}

/// The queries of one read, on its snapshot connection.
///
/// Each chunk of rows comes as one row of `array_agg` columns (``ArrayColumn``):
/// one message per chunk instead of one per row. Users and profiles are chunked
/// by user index over an ordered subquery. Events and responses come either in
/// one pass in storage order (block ranges; the engine sorts them) or, for a
/// small tenant, per event type in time ranges sized from the previous chunk
/// (each range half-open, so ties never split and no row is read twice) and per
/// campaign and kind. The builder checks every order it relies on, so a plan
/// that aggregated out of order would fail the load, not corrupt it.
private struct Reader {
    let connection: PostgresConnection
    let logger: Logger
    let batchSize: Int

    /// Microseconds a first event chunk spans: one day.
    static let firstSpan: Int64 = 86_400_000_000
    /// Microseconds an event chunk spans at most (2^50, about 35 years), so ranges never overflow.
    static let longestSpan: Int64 = 1 << 50

    func users<Sink: AudienceSink>(into sink: inout Sink) async throws {
        let last = try await maxUserIndex(in: "users")
        var start: Int64 = 0
        while start <= last {
            let end = start + Int64(batchSize)
            let sql = """
                SELECT array_agg(user_index), array_agg(external_id)
                FROM (SELECT user_index, external_id FROM users WHERE user_index >= \(start) AND user_index < \(end) ORDER BY user_index) u
                """
            for try await row in try await connection.query(PostgresQuery(stringLiteral: sql), logger: logger) {
                var cells = row.makeIterator()
                guard let indexes = try cells.next()!.decode(ArrayColumn?.self) else { continue }
                let externalIDs = try cells.next()!.decode(ArrayColumn.self)
                var batch = AudienceRows.Users()
                batch.indexes = try indexes.int64s().map(Self.userIndex)
                batch.externalIDs = try externalIDs.strings().map { $0 ?? "" }
                try sink.receive(batch)
            }
            start = end
        }
    }

    /// The largest user index in `table` (-1 when empty): the primary key answers it.
    private func maxUserIndex(in table: String) async throws -> Int64 {
        var last: Int64 = -1
        for try await value in try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT coalesce(max(user_index), -1)::int8 FROM \(table)"), logger: logger
        ).decode(Int64.self) { last = value }
        return last
    }

    func events<Sink: AudienceSink>(_ name: String, fields: [AudienceRows.Field], into sink: inout Sink) async throws {
        var bounds: (first: Int64, last: Int64)?
        for try await (first, last) in try await connection.query(
            "SELECT min(time), max(time) FROM events WHERE event_name = \(name)", logger: logger
        ).decode((Microseconds?, Microseconds?).self) {
            if let first, let last { bounds = (first.value, last.value) }
        }
        guard let bounds else { return }
        var binds = PostgresBindings(capacity: fields.count + 3)
        binds.append(name)
        binds.append(MicrosecondsBind(value: 0))  // the range: each chunk binds its own
        binds.append(MicrosecondsBind(value: 0))
        let columns = fields.map { Self.typed("properties", key: $0.name, type: $0.type, binds: &binds) }
        let sql =
            "SELECT array_agg(user_index), array_agg(time)" + fields.indices.map { ", array_agg(v\($0))" }.joined()
            + " FROM (SELECT user_index, time" + columns.enumerated().map { ", \($1) AS v\($0)" }.joined()
            + " FROM events WHERE event_name = $1 AND time >= $2 AND time < $3 ORDER BY time) e"
        var start = bounds.first
        var span = Self.firstSpan
        while start <= bounds.last {
            try Task.checkCancellation()
            let end = start + span > bounds.last ? bounds.last + 1 : start + span
            var chunk = PostgresBindings(capacity: fields.count + 3)
            chunk.append(name)
            chunk.append(MicrosecondsBind(value: start))
            chunk.append(MicrosecondsBind(value: end))
            for field in fields { chunk.append(field.name) }
            var rows = 0
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: chunk), logger: logger) {
                var cells = row.makeIterator()
                guard let users = try cells.next()!.decode(ArrayColumn?.self) else { continue }
                var batch = AudienceRows.Events(name: name, fields: fields)
                batch.users = try users.int64s().map(Self.userIndex)
                batch.times = try cells.next()!.decode(ArrayColumn.self).times().map { $0 ?? .min }
                for column in batch.values.indices {
                    batch.values[column] = try Self.values(cells.next()!.decode(ArrayColumn.self), type: fields[column].type)
                }
                rows = batch.count
                try sink.receive(batch)
            }
            start = end
            // Aim the next range at a batch of rows, from this one's density (at most 4× wider, at most ~35 years).
            let aimed = rows == 0 ? Double(span) * 4 : min(Double(span) * 4, Double(span) * Double(batchSize) / Double(rows))
            span = Int64(max(1, min(aimed, Double(Self.longestSpan))))
        }
    }

    /// Whether to read events in one pass (``AudienceSource/EventScan``).
    func readsInOnePass(_ scan: AudienceSource.EventScan) async throws -> Bool {
        switch scan {
        case .onePass: return true
        case .byType: return false
        case .automatic:
            var share = 1.0
            for try await (tenantEvents, tableEvents) in try await connection.query(
                """
                SELECT (SELECT coalesce(sum(count), 0) FROM catalog_event_types)::float8,
                       (SELECT coalesce(sum(c.reltuples), 0) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'events'::regclass AND c.reltuples > 0)::float8
                """, logger: logger
            ).decode((Double, Double).self) {
                share = tableEvents > 0 ? tenantEvents / tableEvents : 1
            }
            return share >= 0.25
        }
    }

    /// Every event of the tenant, in storage order: block ranges of every partition at once,
    /// each range one row per event type. Property columns are one per (property, type) pair
    /// of the catalog, aggregated only for the types that have it (`FILTER`), so a type's
    /// row carries its own properties and NULL for the rest.
    func eventsInOnePass<Sink: AudienceSink>(catalog: RuleCatalog, into sink: inout Sink) async throws {
        var pairs: [AudienceRows.Field] = []
        var typesOf: [String: [String]] = [:]  // "type name" → event types
        var fieldsOf: [String: [AudienceRows.Field]] = [:]
        for name in catalog.events.sorted() {
            let fields = AudienceSource.fields(catalog.properties[name] ?? [:])
            fieldsOf[name] = fields
            for field in fields {
                let key = "\(field.type.rawValue) \(field.name)"
                if typesOf[key] == nil { pairs.append(field) }
                typesOf[key, default: []].append(name)
            }
        }
        let column = Dictionary(uniqueKeysWithValues: pairs.enumerated().map { ("\($1.type.rawValue) \($1.name)", $0) })
        var template = PostgresBindings()
        template.append("(0,0)")  // the block range: each chunk binds its own
        template.append("(0,0)")
        var aggregates: [String] = []
        for field in pairs {
            let typed = Self.typed("properties", key: field.name, type: field.type, binds: &template)
            template.append(typesOf["\(field.type.rawValue) \(field.name)"]!)
            aggregates.append(", array_agg(\(typed)) FILTER (WHERE event_name = ANY($\(template.count)))")
        }
        let sql =
            "SELECT event_name, array_agg(user_index), array_agg(time)" + aggregates.joined()
            + " FROM events WHERE ctid >= $1::tid AND ctid < $2::tid GROUP BY event_name"
        // Every partition's block range at once: the largest partition bounds them all.
        for (start, end) in try await blockRanges(
            """
            SELECT coalesce(max(pg_relation_size(i.inhrelid)), 0) / current_setting('block_size')::int8
            FROM pg_inherits i WHERE i.inhparent = 'events'::regclass
            """)
        {
            try Task.checkCancellation()
            var binds = PostgresBindings(capacity: 2 + pairs.count * 2)
            binds.append("(\(start),0)")
            binds.append("(\(end),0)")
            for field in pairs {
                binds.append(field.name)
                binds.append(typesOf["\(field.type.rawValue) \(field.name)"]!)
            }
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
                var cells = row.makeIterator()
                let name = try cells.next()!.decode(String.self)
                guard let fields = fieldsOf[name] else { continue }  // not in the snapshot's catalog: ingest records both in one transaction
                var batch = AudienceRows.Events(name: name, fields: fields)
                batch.inTimeOrder = false
                batch.users = try cells.next()!.decode(ArrayColumn.self).int64s().map(Self.userIndex)
                batch.times = try cells.next()!.decode(ArrayColumn.self).times().map { $0 ?? .min }
                var aggregated: [ArrayColumn?] = []
                while let cell = cells.next() { aggregated.append(try cell.decode(ArrayColumn?.self)) }
                for (index, field) in fields.enumerated() {
                    guard let values = aggregated[column["\(field.type.rawValue) \(field.name)"]!] else {
                        throw DomainError(.internalError, "the events of \(name) came without their \(field.name) values")
                    }
                    batch.values[index] = try Self.values(values, type: field.type)
                }
                try sink.receive(batch)
            }
        }
    }

    func profiles<Sink: AudienceSink>(fields: [AudienceRows.Field], into sink: inout Sink) async throws {
        let last = try await maxUserIndex(in: "profiles")
        var binds = PostgresBindings(capacity: fields.count + 2)
        binds.append(Int64(0))  // the range: each chunk binds its own
        binds.append(Int64(0))
        let columns = fields.map { Self.typed("attributes", key: $0.name, type: $0.type, binds: &binds) }
        let sql =
            "SELECT array_agg(user_index), array_agg(last_latitude), array_agg(last_longitude), array_agg(last_location_at)"
            + fields.indices.map { ", array_agg(v\($0))" }.joined()
            + " FROM (SELECT user_index, last_latitude, last_longitude, last_location_at"
            + columns.enumerated().map { ", \($1) AS v\($0)" }.joined()
            + " FROM profiles WHERE user_index >= $1 AND user_index < $2 ORDER BY user_index) p"
        var start: Int64 = 0
        while start <= last {
            let end = start + Int64(batchSize)
            var chunk = PostgresBindings(capacity: fields.count + 2)
            chunk.append(start)
            chunk.append(end)
            for field in fields { chunk.append(field.name) }
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: chunk), logger: logger) {
                var cells = row.makeIterator()
                guard let users = try cells.next()!.decode(ArrayColumn?.self) else { continue }
                var batch = AudienceRows.Profiles(fields: fields)
                batch.users = try users.int64s().map(Self.userIndex)
                let latitudes = try cells.next()!.decode(ArrayColumn.self).doubles()
                let longitudes = try cells.next()!.decode(ArrayColumn.self).doubles()
                let seen = try cells.next()!.decode(ArrayColumn.self).times()
                batch.locations = zip(zip(latitudes, longitudes), seen).map { position, time in
                    guard let latitude = position.0, let longitude = position.1, let time else { return nil }
                    return AudienceRows.LastLocationRow(latitude: latitude, longitude: longitude, time: time)
                }
                for column in batch.values.indices {
                    batch.values[column] = try Self.values(cells.next()!.decode(ArrayColumn.self), type: fields[column].type)
                }
                try sink.receive(batch)
            }
            start = end
        }
    }

    /// Block ranges of about a batch of rows each (rows run to dozens per 8 kB page), covering
    /// the blocks `sizeSQL` counts: the TID ranges a one-pass read goes through.
    private func blockRanges(_ sizeSQL: PostgresQuery) async throws -> [(start: Int64, end: Int64)] {
        var blocks: Int64 = 0
        for try await count in try await connection.query(sizeSQL, logger: logger).decode(Int64.self) { blocks = count }
        let perRange = Int64(max(1, batchSize / 32))
        return stride(from: 0, to: blocks, by: Int(perRange)).map { (Int64($0), Int64($0) + perRange) }
    }

    /// Every response of the tenant in storage order, block range by block range, one row
    /// per campaign and kind in each (the engine sorts each by time): as for events, grouping
    /// the whole table in PostgreSQL sorted every group twice and was half the load.
    func responsesInOnePass<Sink: AudienceSink>(into sink: inout Sink) async throws {
        for (start, end) in try await blockRanges("SELECT pg_relation_size('campaign_responses') / current_setting('block_size')::int8") {
            try Task.checkCancellation()
            for try await (campaign, kindName, users, times) in try await connection.query(
                """
                SELECT campaign_id, kind, array_agg(user_index), array_agg(time) FROM campaign_responses
                WHERE ctid >= \("(\(start),0)")::tid AND ctid < \("(\(end),0)")::tid GROUP BY campaign_id, kind
                """, logger: logger
            ).decode((String, String, ArrayColumn, ArrayColumn).self) {
                guard let kind = ResponseKind(rawValue: kindName) else { continue }  // the table's CHECK allows only the four kinds
                var batch = AudienceRows.Responses(campaign: campaign, kind: kind)
                batch.inTimeOrder = false
                batch.users = try users.int64s().map(Self.userIndex)
                batch.times = try times.times().map { $0 ?? .min }
                try sink.receive(batch)
            }
        }
    }

    func tags<Sink: AudienceSink>(into sink: inout Sink) async throws {
        for try await (tag, indexes) in try await connection.query(
            "SELECT tag_id, array_agg(user_index) FROM user_tags GROUP BY tag_id", logger: logger
        ).decode((String, ArrayColumn).self) {
            var batch = AudienceRows.Tags(tag: tag)
            batch.users = try indexes.int64s().map(Self.userIndex)
            try sink.receive(batch)
        }
    }

    func responses<Sink: AudienceSink>(into sink: inout Sink) async throws {
        for try await (campaign, kindName, users, times) in try await connection.query(
            """
            SELECT campaign_id, kind, array_agg(user_index ORDER BY time), array_agg(time ORDER BY time)
            FROM campaign_responses GROUP BY campaign_id, kind
            """, logger: logger
        ).decode((String, String, ArrayColumn, ArrayColumn).self) {
            guard let kind = ResponseKind(rawValue: kindName) else { continue }  // the table's CHECK allows only the four kinds
            var batch = AudienceRows.Responses(campaign: campaign, kind: kind)
            batch.users = try users.int64s().map(Self.userIndex)
            batch.times = try times.times().map { $0 ?? .min }
            try sink.receive(batch)
        }
    }

    /// A batch column from an aggregated array of `type`'s typed reading.
    static func values(_ array: ArrayColumn, type: ValueType) throws -> AudienceValues {
        switch type {
        case .string: .strings(try array.strings())
        case .number: .numbers(try array.doubles())
        case .bool: .bools(try array.bools())
        case .timestamp: .times(try array.times())
        case .stringList: .lists(try array.stringLists())
        }
    }

    // MARK: Typed values

    /// The SQL for `column -> key` as a value of `type`, NULL when absent or of another
    /// JSON type: the SQL compiler's typed reading, so both paths see the same values.
    static func typed(_ column: String, key: String, type: ValueType, binds: inout PostgresBindings) -> String {
        binds.append(key)
        let k = "$\(binds.count)"
        switch type {
        case .number: return "CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'number' THEN (\(column) ->> \(k))::float8 END"
        case .string: return "CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'string' THEN \(column) ->> \(k) END"
        case .bool: return "CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'boolean' THEN (\(column) ->> \(k))::boolean END"
        case .timestamp: return "CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'string' THEN (\(column) ->> \(k))::timestamptz END"
        case .stringList:
            // Items as UTF-8, each followed by a NUL byte (text never holds one), so a chunk aggregates
            // lists of any lengths into one bytea[] (an array of text[] must be rectangular).
            return """
                CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'array' THEN coalesce((SELECT string_agg(convert_to(x, 'UTF8') || '\\x00'::bytea, ''::bytea ORDER BY o) FROM jsonb_array_elements_text(\(column) -> \(k)) WITH ORDINALITY AS t(x, o)), ''::bytea) END
                """
        }
    }

    /// A stored user index as the engine's `UInt32`.
    static func userIndex(_ index: Int64) throws -> UInt32 {
        guard index >= 0, index < Int64(UInt32.max) else {
            throw DomainError(.limitExceeded, "the tenant has more users than the audience engine holds (\(UInt32.max))")
        }
        return UInt32(index)
    }
}
