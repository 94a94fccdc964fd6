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
/// none of it) and row-level security keeps other tenants out. Rows stream
/// from PostgreSQL with back-pressure and reach the sink in batches of
/// `batchSize`, so memory stays at one batch besides what the sink keeps.
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

    public init(database: Database, batchSize: Int = 4096) {
        self.database = database
        self.batchSize = max(1, batchSize)
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
            var takenAt = Date()
            var databaseSnapshot = ""
            for try await (now, snapshot) in try await connection.query(
                "SELECT now(), pg_current_snapshot()::text", logger: logger
            ).decode((Date, String).self) {
                (takenAt, databaseSnapshot) = (now, snapshot)
            }
            let catalog = try await RuleStore.catalog(on: connection, logger: logger)
            try await reader.users(into: &sink)
            for name in catalog.events.sorted() {
                let fields = Self.fields(catalog.properties[name] ?? [:])
                try await reader.events(name, fields: fields, into: &sink)
            }
            try await reader.profiles(fields: Self.fields(catalog.attributes), into: &sink)
            try await reader.tags(into: &sink)
            try await reader.responses(into: &sink)
            return Snapshot(catalog: catalog, takenAt: takenAt, databaseSnapshot: databaseSnapshot)
        }
    }

    /// Fields in name order, so column positions are stable.
    static func fields(_ types: [String: ValueType]) -> [AudienceRows.Field] {
        types.sorted { $0.key < $1.key }.map { AudienceRows.Field(name: $0.key, type: $0.value) }
    }
}

/// The queries of one read, on its snapshot connection.
private struct Reader {
    let connection: PostgresConnection
    let logger: Logger
    let batchSize: Int

    func users<Sink: AudienceSink>(into sink: inout Sink) async throws {
        var batch = AudienceRows.Users()
        for try await (index, externalID) in try await connection.query(
            "SELECT user_index, external_id FROM users ORDER BY user_index", logger: logger
        ).decode((Int64, String).self) {
            batch.indexes.append(try Self.userIndex(index))
            batch.externalIDs.append(externalID)
            if batch.count == batchSize {
                try sink.receive(batch)
                batch = AudienceRows.Users()
            }
        }
        if batch.count > 0 { try sink.receive(batch) }
    }

    func events<Sink: AudienceSink>(_ name: String, fields: [AudienceRows.Field], into sink: inout Sink) async throws {
        var binds = PostgresBindings(capacity: fields.count + 1)
        binds.append(name)
        let columns = fields.map { Self.typed("properties", key: $0.name, type: $0.type, binds: &binds) }
        let sql =
            "SELECT user_index, time" + columns.map { ", " + $0 }.joined()
            + " FROM events WHERE event_name = $1 ORDER BY time"
        var batch = AudienceRows.Events(name: name, fields: fields, capacity: batchSize)
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
            var cells = row.makeIterator()
            batch.users.append(try Self.userIndex(try cells.next()!.decode(Int64.self)))
            batch.times.append(try cells.next()!.decode(Microseconds.self).value)
            for column in batch.values.indices {
                try Self.append(cells.next()!, to: &batch.values[column])
            }
            if batch.count == batchSize {
                try sink.receive(batch)
                batch = AudienceRows.Events(name: name, fields: fields, capacity: batchSize)
            }
        }
        if batch.count > 0 { try sink.receive(batch) }
    }

    func profiles<Sink: AudienceSink>(fields: [AudienceRows.Field], into sink: inout Sink) async throws {
        var binds = PostgresBindings(capacity: fields.count)
        let columns = fields.map { Self.typed("attributes", key: $0.name, type: $0.type, binds: &binds) }
        let sql =
            "SELECT user_index, last_latitude, last_longitude, last_location_at" + columns.map { ", " + $0 }.joined()
            + " FROM profiles ORDER BY user_index"
        var batch = AudienceRows.Profiles(fields: fields, capacity: batchSize)
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
            var cells = row.makeIterator()
            batch.users.append(try Self.userIndex(try cells.next()!.decode(Int64.self)))
            let latitude = try cells.next()!.decode(Double?.self)
            let longitude = try cells.next()!.decode(Double?.self)
            let seen = try cells.next()!.decode(Microseconds?.self)
            if let latitude, let longitude, let seen {
                batch.locations.append(AudienceRows.LastLocationRow(latitude: latitude, longitude: longitude, time: seen.value))
            } else {
                batch.locations.append(nil)
            }
            for column in batch.values.indices {
                try Self.append(cells.next()!, to: &batch.values[column])
            }
            if batch.count == batchSize {
                try sink.receive(batch)
                batch = AudienceRows.Profiles(fields: fields, capacity: batchSize)
            }
        }
        if batch.count > 0 { try sink.receive(batch) }
    }

    func tags<Sink: AudienceSink>(into sink: inout Sink) async throws {
        var batch: AudienceRows.Tags?
        for try await (tag, index) in try await connection.query(
            "SELECT tag_id, user_index FROM user_tags ORDER BY tag_id, user_index", logger: logger
        ).decode((String, Int64).self) {
            if let current = batch, current.count == batchSize || current.tag != tag {
                try sink.receive(current)
                batch = nil
            }
            if batch == nil { batch = AudienceRows.Tags(tag: tag) }
            batch!.users.append(try Self.userIndex(index))
        }
        if let batch { try sink.receive(batch) }
    }

    func responses<Sink: AudienceSink>(into sink: inout Sink) async throws {
        var batch: AudienceRows.Responses?
        for try await (campaign, kindName, index, time) in try await connection.query(
            "SELECT campaign_id, kind, user_index, time FROM campaign_responses ORDER BY campaign_id, kind, time", logger: logger
        ).decode((String, String, Int64, Microseconds).self) {
            guard let kind = ResponseKind(rawValue: kindName) else { continue }  // the table's CHECK allows only the four kinds
            if let current = batch,
                current.count == batchSize || current.kind != kind || !current.campaign.utf8.elementsEqual(campaign.utf8)
            {
                try sink.receive(current)
                batch = nil
            }
            if batch == nil { batch = AudienceRows.Responses(campaign: campaign, kind: kind) }
            batch!.users.append(try Self.userIndex(index))
            batch!.times.append(time.value)
        }
        if let batch { try sink.receive(batch) }
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
            return "CASE WHEN jsonb_typeof(\(column) -> \(k)) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(\(column) -> \(k))) END"
        }
    }

    static func append(_ cell: PostgresCell, to values: inout AudienceValues) throws {
        switch values {
        case .strings(var column):
            values = .strings([])  // let go of the payload, so the append does not copy it
            column.append(try cell.decode(String?.self))
            values = .strings(column)
        case .numbers(var column):
            values = .numbers([])
            column.append(try cell.decode(Double?.self))
            values = .numbers(column)
        case .bools(var column):
            values = .bools([])
            column.append(try cell.decode(Bool?.self))
            values = .bools(column)
        case .times(var column):
            values = .times([])
            column.append(try cell.decode(Microseconds?.self)?.value)
            values = .times(column)
        case .lists(var column):
            values = .lists([])
            column.append(try cell.decode([String]?.self))
            values = .lists(column)
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
