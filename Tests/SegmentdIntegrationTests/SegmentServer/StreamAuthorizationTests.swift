import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SegmentDomain
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Synchronization
import Testing

/// A key revoked while its stream is open stops the stream at its next message.
///
/// With the auth cache off (TTL 0) every message is a lookup, so the test awaits
/// the lookup that authorized the first message, revokes the key, and sends the
/// next: no sleeping, no race.
@Suite("Streams are authorized per message: a key revoked mid-stream writes nothing more", .timeLimit(.minutes(5)))
struct StreamAuthorizationTests {
    static let parent = "tenants/acme"

    /// A new key with `roles`, and its resource name.
    static func key(_ server: TestServer, roles: [String]) async throws -> (secret: String, name: String) {
        let secret = try await server.createKey(roles: roles, name: "streamer")
        let name = try await server.connect(apiKey: secret) { connection in
            try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata).apiKey
        }
        return (secret, name)
    }

    static func revoke(_ server: TestServer, _ name: String) async throws {
        let revoked = try await server.connect { connection in
            try await connection.access.revokeApiKey(.with { $0.name = name }, metadata: connection.metadata)
        }
        #expect(revoked.hasRevokeTime)
    }

    static func userExists(_ server: TestServer, _ user: String) async throws -> Bool {
        let outcome = try await server.connect { connection in
            await SegmentLifecycleTests.code {
                _ = try await connection.users.getUser(.with { $0.name = "\(parent)/users/\(user)" }, metadata: connection.metadata)
            }
        }
        #expect(outcome.0 == nil || outcome.0 == .notFound, "\(outcome)")
        return outcome.0 == nil
    }

    static func batch(_ user: String) -> Segmentd_V1_IngestBatch {
        .with {
            $0.parent = parent
            $0.events = .with { $0.events = [.make(user, "app_open")] }
        }
    }

    @Test("StreamIngest: after the key is revoked the next batch fails UNAUTHENTICATED and nothing of it is written")
    func ingest() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            let (secret, name) = try await Self.key(server, roles: ["integration"])
            let authenticator = server.server.authenticator
            // (The code is read inside the connection: the client library rewords errors that leave it.)
            let outcome = try await SegmentdConnection.with(server.settings(apiKey: secret)) { feeder in
                await SegmentLifecycleTests.code {
                    let before = authenticator.lookupCount
                    _ = try await feeder.ingestion.streamIngest(metadata: feeder.metadata) { writer in
                        try await writer.write(Self.batch("before_revoke"))
                        // The call's start and the first batch were authorized; now the key goes.
                        await authenticator.wait(untilLookups: before + 2)
                        try await Self.revoke(server, name)
                        try await writer.write(Self.batch("after_revoke"))
                    }
                }
            }
            #expect(outcome.0 == .unauthenticated, "\(outcome)")
            #expect(try await Self.userExists(server, "before_revoke"), "the batch sent before the revocation was accepted")
            #expect(try await !Self.userExists(server, "after_revoke"))
        }
    }

    @Test("StreamReplaceChunks: after the key is revoked the next chunk fails UNAUTHENTICATED and is not staged")
    func replace() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            let session = try await server.connect { connection in
                try await ConnectorTests.seedUsers(connection)
                _ = try await ConnectorTests.createConnector(connection, "audience")
                return try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = ConnectorTests.name("audience")
                        $0.syncID = "full-1"
                    }, metadata: connection.metadata)
            }
            let (secret, name) = try await Self.key(server, roles: ["editor"])
            let authenticator = server.server.authenticator
            let outcome = try await SegmentdConnection.with(server.settings(apiKey: secret)) { syncer in
                await SegmentLifecycleTests.code {
                    let before = authenticator.lookupCount
                    _ = try await syncer.connectors.streamReplaceChunks(metadata: syncer.metadata) { writer in
                        try await writer.write(
                            .with {
                                $0.session = session.name
                                $0.sequence = 0
                                $0.userIds = ["u1", "u2"]
                            })
                        await authenticator.wait(untilLookups: before + 2)
                        try await Self.revoke(server, name)
                        try await writer.write(
                            .with {
                                $0.session = session.name
                                $0.sequence = 1
                                $0.userIds = ["u3", "u4", "u5"]
                            })
                    }
                }
            }
            #expect(outcome.0 == .unauthenticated, "\(outcome)")
            // Resuming the session with a valid key shows what was staged: the first chunk only.
            let resumed = try await server.connect { connection in
                try await connection.connectors.beginReplace(
                    .with {
                        $0.segment = ConnectorTests.name("audience")
                        $0.syncID = "full-1"
                    }, metadata: connection.metadata)
            }
            #expect(resumed.name == session.name && resumed.staged == 2, "\(resumed)")
        }
    }

    @Test("StreamSegmentMembers: after the key is revoked the stream stops at its next chunk with UNAUTHENTICATED")
    func memberStream() async throws {
        try await TestServer.with(configure: { $0.authentication.cacheTTL = .zero }) { server in
            // About 600 KB of ids: far more than a 64 KiB window lets the server send before the client reads on.
            try await MemberStreamTests.seedLargeSegment(server, count: 3000)
            let (secret, name) = try await Self.key(server, roles: ["viewer"])
            let smallWindow = HTTP2ClientTransport.Posix.Config.defaults { $0.http2.targetWindowSize = 65_535 }
            let (outcome, received) = try await SegmentdConnection.with(server.settings(apiKey: secret), config: smallWindow) { reader in
                let received = Mutex(0)
                let outcome = await SegmentLifecycleTests.code {
                    let request = ClientRequest(
                        message: Segmentd_V1_StreamSegmentMembersRequest.with {
                            $0.segment = MemberStreamTests.name("pros")
                            $0.chunkSize = 100
                        }, metadata: reader.metadata)
                    try await reader.membership.streamSegmentMembers(request: request) { response in
                        for try await chunk in response.messages {
                            let first = received.withLock { count in
                                count += chunk.userIds.count
                                return count == chunk.userIds.count
                            }
                            // The client pauses after the first chunk while the key is revoked, then reads on.
                            if first { try await Self.revoke(server, name) }
                        }
                    }
                }
                return (outcome, received.withLock { $0 })
            }
            #expect(outcome.0 == .unauthenticated, "\(outcome)")
            #expect(received > 0 && received < 3000, "received \(received) of 3,000 before the refusal")
        }
    }
}
