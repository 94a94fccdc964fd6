import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// Set until cleared; shared by the tasks of a test.
final class Flag: Sendable {
    private let value = Atomic<Bool>(true)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func clear() { value.store(false, ordering: .relaxed) }
}

/// Unauthenticated floods and one busy key (issue 16, item 3): each test makes
/// the calls an attacker would and shows what they cannot do.
@Suite("Floods: keyless calls cost no writes, bad keys and busy keys are rate-limited", .timeLimit(.minutes(5)))
struct FloodTests {
    static let listKeys = Segmentd_V1_AccessService.Method.ListApiKeys.descriptor

    /// Lists the tenant's keys (a call that reads the database).
    static func listKeys(_ connection: SegmentdConnection, key: String?) async throws -> RawCall.Outcome {
        let request: [UInt8] = try Segmentd_V1_ListApiKeysRequest.with { $0.parent = "tenants/acme" }.serializedBytes()
        return try await RawCall.unary(connection, listKeys, message: request, apiKey: key)
    }

    /// The 99th percentile of `latencies`.
    static func p99(_ latencies: [Duration]) -> Duration {
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    }

    /// `count` calls by the tenant, one after another, with their latencies.
    static func tenantCalls(_ connection: SegmentdConnection, key: String, count: Int) async throws -> [Duration] {
        var latencies: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<count {
            let start = clock.now
            let outcome = try await Self.listKeys(connection, key: key)
            #expect(outcome.code == nil, "the tenant's call failed during the flood: \(outcome)")
            latencies.append(clock.now - start)
        }
        return latencies
    }

    @Test("5,000 keyless calls leave the audit table unchanged, make no lookups, and a concurrent tenant's calls keep succeeding")
    func keylessFlood() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let auditBefore = try await AuditLogTests.auditRows(server)
                let lookupsBefore = server.server.authenticator.lookupCount
                let started = ContinuousClock.now
                let before = try await Self.tenantCalls(connection, key: server.ownerKey, count: 200)

                let flooding = Flag()
                let during = try await withThrowingTaskGroup(of: [Duration].self) { group in
                    // The flood: 5,000 calls without a key (and with malformed ones) on 10 concurrent lanes.
                    for lane in 0..<10 {
                        group.addTask {
                            try await SegmentdConnection.with(server.settings(apiKey: nil)) { attacker in
                                for index in 0..<500 {
                                    let outcome = try await RawCall.unary(
                                        attacker, Self.listKeys, apiKey: index % 2 == 0 ? nil : "sgd_live_\(lane)x\(index)")
                                    #expect(outcome.code == .unauthenticated)
                                }
                            }
                            return []
                        }
                    }
                    // The tenant, calling for as long as the flood lasts.
                    group.addTask {
                        var latencies: [Duration] = []
                        while flooding.isSet || latencies.count < 50 {
                            latencies += try await Self.tenantCalls(connection, key: server.ownerKey, count: 10)
                        }
                        return latencies
                    }
                    var tenant: [Duration] = []
                    var lanesDone = 0
                    while let result = try await group.next() {
                        if result.isEmpty {
                            lanesDone += 1
                            if lanesDone == 10 { flooding.clear() }
                        } else {
                            tenant = result
                        }
                    }
                    return tenant
                }
                #expect(try await AuditLogTests.auditRows(server) == auditBefore, "the flood added audit rows")
                // The tenant's own key is looked up again whenever its cache entry expires (every 2 s: a
                // full parallel run once stretched this test to 265 s and 52 such lookups); the 5,000
                // keyless and malformed calls made none (they would have made thousands).
                let expiries = Int((ContinuousClock.now - started) / .seconds(2)) + 1
                let lookups = server.server.authenticator.lookupCount - lookupsBefore
                #expect(lookups <= expiries + 10, "keyless and malformed calls looked keys up: \(lookups) lookups in \(expiries) expiries")
                print(
                    "keyless flood: tenant ListApiKeys p99 \(Self.p99(before)) before (200 calls), \(Self.p99(during)) during (\(during.count) calls)"
                )
            }
        }
    }

    @Test(
        "made-up well-formed keys from one address: a bounded number of lookups, then RESOURCE_EXHAUSTED with a retry delay; a valid key keeps working"
    )
    func badKeysPerPeer() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.authentication.now = clock.now
            $0.authentication.peerBadKeyRate = RateLimit(perSecond: 2, burst: 10)
        }) { server in
            try await server.connect { connection in
                #expect(try await Self.listKeys(connection, key: server.ownerKey).code == nil)
                let auditBefore = try await AuditLogTests.auditRows(server)
                let lookupsBefore = server.server.authenticator.lookupCount
                var outcomes: [RawCall.Outcome] = []
                for _ in 0..<30 {
                    outcomes.append(try await Self.listKeys(connection, key: APIKeySecret.generate().plaintext))
                }
                #expect(outcomes.prefix(10).allSatisfy { $0.code == .unauthenticated })
                let limited = outcomes.dropFirst(10)
                #expect(limited.allSatisfy { $0.code == .resourceExhausted && $0.reason == "LIMIT_EXCEEDED" }, "\(limited.first!)")
                #expect(limited.allSatisfy { $0.quotaSubjects == ["bad_keys_per_peer"] })
                #expect(limited.allSatisfy { ($0.retryDelay ?? .zero) > .zero && ($0.retryDelay ?? .zero) <= .milliseconds(500) })
                #expect(server.server.authenticator.lookupCount - lookupsBefore == 10, "30 made-up keys made more than 10 lookups")
                #expect(try await AuditLogTests.auditRows(server) == auditBefore)

                // The tenant's cached key is not affected; once the budget refills, lookups resume.
                #expect(try await Self.listKeys(connection, key: server.ownerKey).code == nil)
                clock.advance(by: .seconds(1))
                #expect(try await Self.listKeys(connection, key: APIKeySecret.generate().plaintext).code == .unauthenticated)
            }
        }
    }

    @Test("one key past its rate gets RESOURCE_EXHAUSTED with a retry delay; another key of the same tenant is not affected")
    func perKeyRate() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.authentication.now = clock.now
            $0.authentication.keyRate = RateLimit(perSecond: 5, burst: 5)
        }) { server in
            let other = try await server.createKey(roles: ["owner"])
            clock.advance(by: .seconds(1))  // a full bucket again
            try await server.connect { connection in
                var codes: [RPCError.Code?] = []
                var last: RawCall.Outcome?
                for _ in 0..<8 {
                    let outcome = try await Self.listKeys(connection, key: server.ownerKey)
                    codes.append(outcome.code)
                    last = outcome
                }
                #expect(codes.filter { $0 == nil }.count == 5, "\(codes)")
                #expect(last?.code == .resourceExhausted && last?.quotaSubjects == ["calls_per_key"])
                #expect(last?.retryDelay == .milliseconds(200))
                #expect(try await Self.listKeys(connection, key: other).code == nil)
                clock.advance(by: .milliseconds(200))
                #expect(try await Self.listKeys(connection, key: server.ownerKey).code == nil)
            }
        }
    }

    @Test("a revoked key replayed 50 times is audited once; a minute later one entry counts the refusals in between")
    func knownKeyFailuresPaced() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.authentication.now = clock.now
            $0.authentication.cacheTTL = .zero
            $0.authentication.peerBadKeyRate = nil  // the replays would be rate-limited first
        }) { server in
            try await server.connect { connection in
                let leaked = try await server.createKey(roles: ["viewer"])
                let keys = try await connection.access.listApiKeys(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                let name = try #require(keys.apiKeys.first { leaked.hasPrefix($0.displayPrefix) }?.name)
                _ = try await connection.access.revokeApiKey(.with { $0.name = name }, metadata: connection.metadata)
                let before = try await AuditLogTests.auditRows(server)
                for _ in 0..<50 {
                    #expect(try await Self.listKeys(connection, key: leaked).code == .unauthenticated)
                }
                #expect(try await AuditLogTests.auditRows(server) == before + 1)
                clock.advance(by: .seconds(61))
                #expect(try await Self.listKeys(connection, key: leaked).code == .unauthenticated)
                #expect(try await AuditLogTests.auditRows(server) == before + 2)
                let recorded = try await server.database.scalar(
                    "SELECT coalesce(after->>'unrecorded_refusals', '0') FROM audit_events WHERE result = 'UNAUTHENTICATED' ORDER BY time, sequence",
                    as: String.self)
                #expect(recorded == ["0", "49"])
            }
        }
    }
}
