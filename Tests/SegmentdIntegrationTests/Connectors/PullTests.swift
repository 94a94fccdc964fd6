import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import SwiftProtobuf
import Synchronization
import Testing

@Suite("Scheduled pulls: conditional GETs, limits, timeouts, a secret auth header", .timeLimit(.minutes(5)))
struct PullTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }
    static let code = SegmentLifecycleTests.code
    static let secret = "Bearer s3cret-token-4711"

    /// The local test servers listen on loopback, which pulls refuse unless the operator allows it.
    static func allowLoopback(_ configuration: inout UseCases.Configuration) {
        configuration.pullPolicy = PullAddressPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8")!])
    }

    static func createPull(
        _ connection: SegmentdConnection, _ id: String, url: String, format: String = "csv", authHeader: String = "", timeout: Int64 = 0,
        maxBytes: Int64 = 0, schedule: Segmentd_V1_Schedule = .with { $0.manual = true }
    ) async throws -> Segmentd_V1_Segment {
        try await connection.segments.createSegment(
            .with {
                $0.parent = parent
                $0.segmentID = id
                $0.segment = .with { segment in
                    segment.kind = .connector
                    segment.connector = .with {
                        $0.source = .pull
                        $0.pull = .with {
                            $0.url = url
                            $0.format = format
                            $0.authHeader = authHeader
                            if timeout > 0 { $0.timeout = .init(seconds: timeout, nanos: 0) }
                            $0.maxBytes = maxBytes
                        }
                    }
                    segment.schedule = schedule
                }
            }, metadata: connection.metadata)
    }

    static func sync(_ server: TestServer, _ connection: SegmentdConnection, _ id: String) async throws -> Segmentd_V1_Operation {
        let operation = try await connection.connectors.syncNow(.with { $0.segment = name(id) }, metadata: connection.metadata)
        try await server.worker.drain()
        return try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
    }

    @Test("a pull with an auth header replaces membership; the next one is conditional and 304 changes nothing; the header never comes back")
    func pull() async throws {
        let body = Mutex("user_id,name\nu0,a\nu1,b\nstranger,c\n")
        let http = try await LocalHTTPServer.start { request in
            if request.header("If-None-Match") == "\"v1\"" { return .init(status: 304) }
            return .init(headers: [("ETag", "\"v1\""), ("Content-Type", "text/csv")], body: body.withLock { $0 })
        }
        defer { Task { await http.stop() } }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                let created = try await Self.createPull(connection, "partner", url: http.url + "/ids.csv?token=abc", authHeader: Self.secret)
                #expect(created.connector.pull.authHeaderSet && created.connector.pull.authHeader.isEmpty)
                // The URL's query values may be tokens: readers see them redacted.
                #expect(created.connector.pull.url == http.url + "/ids.csv?token=redacted")
                #expect(created.connector.pull.timeout.seconds == 60 && created.connector.pull.maxBytes == 100 * 1024 * 1024)

                let first = try await Self.sync(server, connection, "partner")
                #expect(first.kind == .sync && first.state == .succeeded, "\(first.error.message)")
                #expect(first.sync.connectorCount == 3 && first.sync.matchedCount == 2 && first.sync.unmatchedSample == ["stranger"])
                #expect(try await ConnectorTests.members(server, "partner") == ["u0", "u1"])
                #expect(http.requests.first?.header("Authorization") == Self.secret)
                #expect(http.requests.first?.path == "/ids.csv?token=abc")

                // The source changed its file, but answers 304 to our validator: nothing changes.
                body.withLock { $0 = "user_id\nu5\n" }
                let second = try await Self.sync(server, connection, "partner")
                #expect(second.state == .succeeded && second.sync.notModified)
                #expect(http.requests.last?.header("If-None-Match") == "\"v1\"")
                #expect(try await ConnectorTests.members(server, "partner") == ["u0", "u1"])

                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("partner") }, metadata: connection.metadata)
                #expect(
                    segment.lastRefresh.outcome == "succeeded" && segment.lastRefresh.connectorCount == 3 && segment.lastRefresh.matchedCount == 2)
                #expect(segment.connector.pull.authHeaderSet && segment.connector.pull.authHeader.isEmpty)

                // Sending the URL back as it was shown keeps the real one, and its header.
                let echoed = try await Self.updatePull(connection, "partner", url: created.connector.pull.url)
                #expect(echoed.connector.pull.url == created.connector.pull.url && echoed.connector.pull.authHeaderSet)
                #expect(
                    try await server.database.scalar("SELECT config -> 'connector' -> 'pull' ->> 'url' FROM segments", as: String.self)
                        == [http.url + "/ids.csv?token=abc"])

                // Updating the URL (same origin) with a new header sends the new one; it is audited without the secret.
                _ = try await connection.segments.updateSegment(
                    .with {
                        $0.updateMask = .with { $0.paths = ["connector"] }
                        $0.segment = .with {
                            $0.name = Self.name("partner")
                            $0.connector = .with {
                                $0.source = .pull
                                $0.pull = .with {
                                    $0.url = http.url + "/v2.csv"
                                    $0.authHeader = "Bearer rotated-99"
                                }
                            }
                        }
                    }, metadata: connection.metadata)
                let revisions = try await connection.segments.listSegmentRevisions(
                    .with { $0.parent = Self.name("partner") }, metadata: connection.metadata)
                #expect(revisions.revisions.first?.changedFields == ["connector"])
                #expect(revisions.revisions.allSatisfy { $0.snapshot.connector.pull.authHeader.isEmpty })
                _ = try await Self.sync(server, connection, "partner")
                #expect(http.requests.last?.header("Authorization") == "Bearer rotated-99" && http.requests.last?.path == "/v2.csv")
                #expect(try await ConnectorTests.members(server, "partner") == ["u5"])

                // Pushing into a PULL connector is refused: its next pull would overwrite it.
                #expect(await Self.code { _ = try await ConnectorTests.add(connection, "partner", "s", ["u3"]) }.0 == .failedPrecondition)
                // SyncNow of a segment that does not pull.
                _ = try await ConnectorTests.createConnector(connection, "pushed")
                #expect(
                    await Self.code {
                        _ = try await connection.connectors.syncNow(.with { $0.segment = Self.name("pushed") }, metadata: connection.metadata)
                    }.0 == .failedPrecondition)
            }
            // The secret is nowhere the API shows: not in the audit log, not in operations.
            let audit = try await AuditLogTests.events(server)
            let auditText = try audit.map { try $0.jsonString() }.joined()
            #expect(!auditText.contains("s3cret") && !auditText.contains("rotated-99") && !auditText.contains("token=abc"))
            #expect(audit.contains { $0.action.hasSuffix("/UpdateSegment") && (try? $0.after.jsonString())?.contains("auth_header_changed") == true })
            let operations = try await server.connect { connection in
                try await connection.operations.listOperations(.with { $0.parent = Self.parent }, metadata: connection.metadata).operations
            }
            #expect(try operations.map { try $0.jsonString() }.allSatisfy { !$0.contains("s3cret") })
            let stored = try await server.database.scalar("SELECT auth_header FROM connector_pull_state", as: String?.self)
            #expect(stored == ["Bearer rotated-99"])
        }
    }

    /// Updates a pull connector's URL, sending `authHeader` (nil: not sent) and `authHeaderSet`.
    static func updatePull(
        _ connection: SegmentdConnection, _ id: String, url: String, authHeader: String? = nil, authHeaderSet: Bool = false
    ) async throws -> Segmentd_V1_Segment {
        try await connection.segments.updateSegment(
            .with {
                $0.updateMask = .with { $0.paths = ["connector"] }
                $0.segment = .with {
                    $0.name = Self.name(id)
                    $0.connector = .with {
                        $0.source = .pull
                        $0.pull = .with {
                            $0.url = url
                            $0.format = "csv"
                            if let authHeader { $0.authHeader = authHeader }
                            $0.authHeaderSet = authHeaderSet
                        }
                    }
                }
            }, metadata: connection.metadata)
    }

    @Test(
        "the stored auth header is bound to the URL's origin: moving the URL elsewhere drops it (the attack), a new path keeps it, and it can be cleared"
    )
    func authHeaderBoundToOrigin() async throws {
        let partner = try await LocalHTTPServer.start { _ in .init(body: "user_id\nu1\n") }
        defer { Task { await partner.stop() } }
        // The attacker's server: another origin (another port on the same host).
        let attacker = try await LocalHTTPServer.start { _ in .init(body: "user_id\nu1\n") }
        defer { Task { await attacker.stop() } }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Self.createPull(connection, "partner", url: partner.url + "/ids.csv", authHeader: Self.secret)

                // Same origin, another path: the header stays and is sent.
                let moved = try await Self.updatePull(connection, "partner", url: partner.url + "/v2/ids.csv")
                #expect(moved.connector.pull.authHeaderSet)
                _ = try await Self.sync(server, connection, "partner")
                #expect(partner.requests.last?.header("Authorization") == Self.secret)

                // Another origin without a new header: the secret is dropped, never sent there.
                let hijacked = try await Self.updatePull(connection, "partner", url: attacker.url + "/steal.csv")
                #expect(!hijacked.connector.pull.authHeaderSet)
                let pulled = try await Self.sync(server, connection, "partner")
                #expect(pulled.state == .succeeded)
                #expect(attacker.requests.count == 1 && attacker.requests.allSatisfy { $0.header("Authorization") == nil })
                #expect(
                    try await server.database.scalar("SELECT count(*)::int FROM connector_pull_state WHERE auth_header IS NOT NULL", as: Int.self)
                        == [0])

                // Back to the partner with a header sent in the same update: kept; then cleared explicitly.
                let restored = try await Self.updatePull(connection, "partner", url: partner.url + "/ids.csv", authHeader: "Bearer new-1")
                #expect(restored.connector.pull.authHeaderSet)
                let cleared = try await Self.updatePull(connection, "partner", url: partner.url + "/ids.csv", authHeaderSet: true)
                #expect(!cleared.connector.pull.authHeaderSet)
                _ = try await Self.sync(server, connection, "partner")
                #expect(partner.requests.last?.header("Authorization") == nil)
            }
            let audit = try await AuditLogTests.events(server)
            #expect(audit.contains { (try? $0.after.jsonString())?.contains("auth_header_dropped") == true })
        }
    }

    @Test("limits and failures: over max_bytes and bad files fail once; 404 fails once; 500 and a slow source are retried; membership is kept")
    func failures() async throws {
        let http = try await LocalHTTPServer.start { request in
            switch request.path {
            case "/big.csv": return .init(body: String(repeating: "user_x\n", count: 100))
            case "/bad.ndjson": return .init(body: "{\"user_id\": \"u1\"}\nnot json\n")
            case "/gone.csv": return .init(status: 404)
            case "/broken.csv": return .init(status: 500)
            case "/slow.csv": return .init(body: "u1\n", delay: .seconds(3))
            default: return .init(body: "u0\nu1\n")
            }
        }
        defer { Task { await http.stop() } }
        try await TestServer.with(configure: Self.allowLoopback) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Self.createPull(connection, "source", url: http.url + "/ok.csv")
                #expect(try await Self.sync(server, connection, "source").state == .succeeded)

                for (path, format, maxBytes, timeout, expectedState, message) in [
                    ("/big.csv", "csv", Int64(100), Int64(0), Segmentd_V1_OperationState.failed, "over the limit of 100 bytes"),
                    ("/bad.ndjson", "ndjson", 0, 0, .failed, "line 2: not a JSON object"),
                    ("/gone.csv", "csv", 0, 0, .failed, "answered 404"),
                    ("/broken.csv", "csv", 0, 0, .retrying, "answered 500"),
                    ("/slow.csv", "csv", 0, 1, .retrying, "did not answer in time"),
                ] {
                    _ = try await connection.segments.updateSegment(
                        .with {
                            $0.updateMask = .with { $0.paths = ["connector"] }
                            $0.segment = .with {
                                $0.name = Self.name("source")
                                $0.connector = .with {
                                    $0.source = .pull
                                    $0.pull = .with {
                                        $0.url = http.url + path
                                        $0.format = format
                                        $0.maxBytes = maxBytes
                                        if timeout > 0 { $0.timeout = .init(seconds: timeout, nanos: 0) }
                                    }
                                }
                            }
                        }, metadata: connection.metadata)
                    let operation = try await Self.sync(server, connection, "source")
                    #expect(operation.state == expectedState, "\(path): \(operation.state) \(operation.error.message)")
                    #expect(
                        operation.error.message.contains(message) || operation.error.message.contains("took longer"),
                        "\(path): \(operation.error.message)")
                    #expect(operation.attempt == 1)
                    #expect(try await ConnectorTests.members(server, "source") == ["u0", "u1"], "\(path)")
                    let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("source") }, metadata: connection.metadata)
                    #expect(segment.lastRefresh.outcome == "failed" && !segment.lastRefresh.error.isEmpty)
                    if expectedState == .retrying {
                        _ = try await connection.operations.cancelOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                    }
                }
                #expect(try await server.database.scalar("SELECT count(*)::int8 FROM replace_staging", as: Int64.self) == [0])
            }
        }
    }

    @Test("pulls follow the schedule; bad URLs are refused at creation")
    func scheduleAndValidation() async throws {
        let http = try await LocalHTTPServer.start { _ in .init(body: "{\"user_id\":\"u2\"}\n", delay: nil) }
        defer { Task { await http.stop() } }
        let clock = ManualWallClock(Date())
        try await TestServer.with(configure: {
            Self.allowLoopback(&$0)
            $0.clock = clock.now
        }) { server in
            try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await Self.createPull(
                    connection, "hourly", url: http.url + "/x.ndjson", format: "ndjson", schedule: .with { $0.everyHours = 1 })
                clock.advance(by: 3700)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 1)
                try await server.worker.drain()
                #expect(try await ConnectorTests.members(server, "hourly") == ["u2"])
                let operations = try await connection.operations.listOperations(
                    .with {
                        $0.parent = Self.parent
                        $0.target = Self.name("hourly")
                    }, metadata: connection.metadata
                ).operations
                #expect(operations.map(\.kind) == [.sync] && operations.first?.state == .succeeded)

                for (url, format) in [
                    ("ftp://example.com/x.csv", "csv"), ("https://user:pw@example.com/x.csv", "csv"), ("not a url", "csv"), (http.url, "xml"),
                ] {
                    let refused = await Self.code { _ = try await Self.createPull(connection, "bad", url: url, format: format) }
                    #expect(refused.0 == .invalidArgument, "\(url) \(format): \(refused.1)")
                }
                #expect(await Self.code { _ = try await Self.createPull(connection, "bad", url: http.url, timeout: 601) }.0 == .invalidArgument)
            }
        }
    }
}
