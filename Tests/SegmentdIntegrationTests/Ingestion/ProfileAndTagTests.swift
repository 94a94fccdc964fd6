import Foundation
import GRPCCore
import GRPCProtobuf
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Profiles, responses, locations, tags and users", .timeLimit(.minutes(5)))
struct ProfileAndTagTests {
    @Test("profiles merge or replace; types are inferred then enforced; reserved attributes are checked")
    func profiles() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let upsert = { (profiles: [Segmentd_V1_Profile], mode: Segmentd_V1_UpsertMode) in
                    try await connection.ingestion.upsertProfiles(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.profiles = profiles
                            $0.mode = mode
                        }, metadata: connection.metadata)
                }
                let first = try await upsert(
                    [
                        .with {
                            $0.userID = "ada"
                            $0.attributes = [
                                "tier": .string("gold"), "age": .number(36), "language": .string("tr"), "country": .string("TR"),
                                "signed_up_at": .with { $0.timestampValue = .init(date: Date(timeIntervalSince1970: 1_700_000_000)) },
                                "interests": .with { $0.stringListValue = .with { $0.values = ["shoes", "bags"] } },
                            ]
                        }
                    ], .merge)
                #expect(first.accepted == 1)
                #expect(first.newUsers == 1)
                _ = try await upsert(
                    [
                        .with {
                            $0.userID = "ada"
                            $0.attributes = ["vip": .bool(true)]
                        }
                    ], .merge)
                var user = try await connection.users.getUser(.with { $0.name = "tenants/acme/users/ada" }, metadata: connection.metadata)
                #expect(Set(user.profile.attributes.keys) == ["tier", "age", "language", "country", "signed_up_at", "interests", "vip"])
                #expect(user.profile.attributes["age"]?.numberValue == 36)
                #expect(user.profile.attributes["vip"]?.boolValue == true)
                #expect(user.profile.attributes["signed_up_at"]?.timestampValue.seconds == 1_700_000_000)
                #expect(user.profile.attributes["interests"]?.stringListValue.values == ["shoes", "bags"])
                _ = try await upsert(
                    [
                        .with {
                            $0.userID = "ada"
                            $0.attributes = ["tier": .string("platinum")]
                        }
                    ], .replace)
                user = try await connection.users.getUser(.with { $0.name = "tenants/acme/users/ada" }, metadata: connection.metadata)
                #expect(user.profile.attributes.keys.sorted() == ["tier"])

                for (attributes, field) in [
                    (["age": Segmentd_V1_Value.string("old")], "profiles[0].attributes.age"),
                    (["country": .string("Turkey")], "profiles[0].attributes.country"),
                    (["time_zone": .string("Mars/Base")], "profiles[0].attributes.time_zone"),
                    (["Bad Key": .string("x")], "profiles[0].attributes.Bad Key"),
                ] {
                    do {
                        _ = try await upsert(
                            [
                                .with {
                                    $0.userID = "bob"
                                    $0.attributes = attributes
                                }
                            ], .merge)
                        Issue.record("expected INVALID_ARGUMENT for \(field)")
                    } catch let error as RPCError {
                        #expect(error.code == .invalidArgument)
                        let fields = try error.unpackGoogleRPCStatus()?.details.compactMap(\.badRequest).flatMap(\.violations).map(\.field)
                        #expect(fields == [field])
                    }
                }
                let attributes = try await connection.catalog.listAttributes(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(attributes.attributes.first { $0.key == "age" }?.type == .number)
                #expect(attributes.attributes.first { $0.key == "language" }?.reserved == true)
            }
        }
    }

    @Test("campaign responses are idempotent and order campaigns by first send; locations move the last location forward only")
    func responsesAndLocations() async throws {
        try await TestServer.with { server in
            let base = Date().addingTimeInterval(-86_400)
            try await server.connect { connection in
                let responses: [Segmentd_V1_CampaignResponse] = [
                    .with {
                        $0.userID = "u1"
                        $0.campaignID = "spring"
                        $0.kind = .received
                        $0.time = .init(date: base)
                    },
                    .with {
                        $0.userID = "u1"
                        $0.campaignID = "spring"
                        $0.kind = .clicked
                        $0.time = .init(date: base.addingTimeInterval(60))
                    },
                    .with {
                        $0.userID = "u2"
                        $0.campaignID = "summer"
                        $0.kind = .received
                        $0.time = .init(date: base.addingTimeInterval(3600))
                    },
                ]
                let first = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.responses = responses
                    }, metadata: connection.metadata)
                #expect(first.accepted == 3)
                let replay = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.responses = responses
                    }, metadata: connection.metadata)
                #expect(replay.accepted == 0)
                #expect(replay.duplicates == 3)
                let campaigns = try await connection.catalog.listCampaigns(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(campaigns.campaigns.map(\.campaignID) == ["summer", "spring"], "the last campaign first")
                #expect(campaigns.campaigns.last?.responseCounts == ["received": 1, "opened": 0, "clicked": 1, "converted": 0])

                let point = { (lat: Double, lon: Double, at: Date) in
                    Segmentd_V1_LocationUpdate.with {
                        $0.userID = "u1"
                        $0.point = .with {
                            $0.latitude = lat
                            $0.longitude = lon
                        }
                        $0.time = .init(date: at)
                    }
                }
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.locations = [point(41.01, 28.97, base), point(39.9, 32.85, base.addingTimeInterval(600))]
                    },
                    metadata: connection.metadata)
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.locations = [point(38.4, 27.1, base.addingTimeInterval(-600))]
                    },
                    metadata: connection.metadata)
                let user = try await connection.users.getUser(.with { $0.name = "tenants/acme/users/u1" }, metadata: connection.metadata)
                #expect(user.profile.lastLocation.latitude == 39.9, "a late, older location does not move the last location back")
                await #expect {
                    try await connection.ingestion.recordLocations(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.locations = [point(91, 0, base)]
                        }, metadata: connection.metadata)
                } throws: { ($0 as? RPCError)?.code == .invalidArgument }
            }
        }
    }

    @Test("tags: create, assign and unassign in bulk, list a tag's users and a user's tags, rename, delete")
    func tags() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                let vip = try await connection.tags.createTag(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tagID = "vip"
                        $0.tag.displayName = "VIP"
                    }, metadata: connection.metadata)
                #expect(vip.name == "tenants/acme/tags/vip")
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tagID = "beta"
                    }, metadata: connection.metadata)
                let users = (0..<25).map { "user-\($0)" }
                let assigned = try await connection.tags.assignTags(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tags = ["vip", "beta"]
                        $0.userIds = users
                    }, metadata: connection.metadata)
                #expect(assigned.changed == 50)
                let again = try await connection.tags.assignTags(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tags = ["vip"]
                        $0.userIds = Array(users.prefix(5))
                    }, metadata: connection.metadata)
                #expect(again.changed == 0)
                #expect(again.unchanged == 5)
                let removed = try await connection.tags.unassignTags(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tags = ["beta"]
                        $0.userIds = Array(users.prefix(10))
                    }, metadata: connection.metadata)
                #expect(removed.changed == 10)
                var members: [String] = []
                var token = ""
                repeat {
                    let page = try await connection.tags.listTagUsers(
                        .with {
                            $0.name = "tenants/acme/tags/beta"
                            $0.pageSize = 4
                            $0.pageToken = token
                        }, metadata: connection.metadata)
                    members += page.userIds
                    token = page.nextPageToken
                } while !token.isEmpty
                #expect(Set(members) == Set(users.dropFirst(10)))
                let user = try await connection.users.getUser(.with { $0.name = "tenants/acme/users/user-12" }, metadata: connection.metadata)
                #expect(user.tags == ["beta", "vip"])
                let renamed = try await connection.tags.renameTag(
                    .with {
                        $0.name = "tenants/acme/tags/vip"
                        $0.newTagID = "very_important"
                    }, metadata: connection.metadata)
                #expect(renamed.userCount == 25)
                let listed = try await connection.tags.listTags(.with { $0.parent = "tenants/acme" }, metadata: connection.metadata)
                #expect(listed.tags.map(\.name) == ["tenants/acme/tags/beta", "tenants/acme/tags/very_important"])
                _ = try await connection.tags.deleteTag(.with { $0.name = "tenants/acme/tags/beta" }, metadata: connection.metadata)
                await #expect {
                    try await connection.tags.assignTags(
                        .with {
                            $0.parent = "tenants/acme"
                            $0.tags = ["beta"]
                            $0.userIds = ["x"]
                        }, metadata: connection.metadata)
                } throws: { ($0 as? RPCError)?.code == .notFound }
                #expect(try await server.database.scalar("SELECT count(*)::int FROM user_tags WHERE tag_id = 'beta'", as: Int.self) == [0])
            }
        }
    }

    @Test("deleting a user erases profile, events, rollups, responses, locations and tags, and is audited")
    func deleteUser() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await connection.ingestion.upsertProfiles(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.profiles = [
                            .with {
                                $0.userID = "gone"
                                $0.attributes = ["tier": .string("gold")]
                            }
                        ]
                    },
                    metadata: connection.metadata)
                _ = try await connection.ingestion.ingestEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.events = [.make("gone", "purchase", id: "e1"), .make("gone", "app_open", id: "e2"), .make("stays", "app_open", id: "e3")]
                    },
                    metadata: connection.metadata)
                _ = try await connection.ingestion.recordCampaignResponses(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.responses = [
                            .with {
                                $0.userID = "gone"
                                $0.campaignID = "c"
                                $0.kind = .opened
                            }
                        ]
                    },
                    metadata: connection.metadata)
                _ = try await connection.ingestion.recordLocations(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.locations = [
                            .with {
                                $0.userID = "gone"
                                $0.point = .with {
                                    $0.latitude = 1
                                    $0.longitude = 2
                                }
                            }
                        ]
                    },
                    metadata: connection.metadata)
                _ = try await connection.tags.createTag(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tagID = "t"
                    }, metadata: connection.metadata)
                _ = try await connection.tags.assignTags(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.tags = ["t"]
                        $0.userIds = ["gone"]
                    }, metadata: connection.metadata)
                let user = try await connection.users.getUser(.with { $0.name = "tenants/acme/users/gone" }, metadata: connection.metadata)
                #expect(user.recentEvents.count == 2)
                let deleted = try await connection.users.deleteUser(.with { $0.name = "tenants/acme/users/gone" }, metadata: connection.metadata)
                #expect(deleted.removed["events"] == 2)
                #expect(deleted.removed["event_message_ids"] == 2)
                #expect(deleted.removed["responses"] == 1)
                #expect(deleted.removed["locations"] == 1)
                #expect(deleted.removed["tags"] == 1)
                #expect(deleted.removed["user"] == 1)
                await #expect {
                    try await connection.users.getUser(.with { $0.name = "tenants/acme/users/gone" }, metadata: connection.metadata)
                } throws: { ($0 as? RPCError)?.code == .notFound }
                for table in ["events", "event_rollups", "campaign_responses", "locations", "user_tags", "profiles"] {
                    #expect(
                        try await server.database.scalar(
                            "SELECT count(*)::int FROM \(table) t JOIN users u USING (tenant_id, user_index) WHERE u.external_id = 'gone'",
                            as: Int.self) == [0])
                }
                #expect(try await server.database.scalar("SELECT count(*)::int FROM events", as: Int.self) == [1])
                let audit = try await connection.audit.listAuditEvents(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.resource = "tenants/acme/users/gone"
                    }, metadata: connection.metadata)
                #expect(audit.auditEvents.map(\.action) == ["segmentd.v1.UserService/DeleteUser"])
            }
        }
    }
}
