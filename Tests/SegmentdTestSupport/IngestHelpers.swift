import Foundation
import GRPCCore
import Logging
import PostgresNIO
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient

extension Segmentd_V1_Value {
    public static func string(_ value: String) -> Self { .with { $0.stringValue = value } }
    public static func number(_ value: Double) -> Self { .with { $0.numberValue = value } }
    public static func bool(_ value: Bool) -> Self { .with { $0.boolValue = value } }
}

extension Segmentd_V1_Event {
    /// An event for tests.
    public static func make(
        _ user: String, _ name: String, at time: Date? = nil, id: String? = nil, _ properties: [String: Segmentd_V1_Value] = [:]
    ) -> Self {
        .with {
            $0.userID = user
            $0.name = name
            if let time { $0.time = .init(date: time) }
            if let id { $0.messageID = id }
            $0.properties = properties
        }
    }
}

extension TestDatabase {
    /// Runs one query as the superuser (bypassing RLS) and returns the first column of each row.
    public func scalar<T: PostgresDecodable & Sendable>(_ sql: String, as type: T.Type = T.self) async throws -> [T] {
        try await superuser.withSingleConnection(logger: Logger(label: "test.sql")) { connection in
            var values: [T] = []
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test.sql"))
                .decode(T.self)
            { values.append(value) }
            return values
        }
    }
}
