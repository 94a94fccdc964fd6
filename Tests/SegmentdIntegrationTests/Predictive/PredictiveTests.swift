import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("Predictive segments: training, scoring, buckets, explanations, model cards", .timeLimit(.minutes(5)))
struct PredictiveTests {
    static let parent = "tenants/acme"
    static func name(_ id: String) -> String { "\(parent)/segments/\(id)" }
    static let code = SegmentLifecycleTests.code

    /// 300 users over 75 days with a planted signal: every third user is a
    /// regular (opens the app every few days, adds to cart often, usually buys
    /// in any two weeks); the rest rarely come back and seldom buy.
    static func seed(_ connection: SegmentdConnection, now: Date, users: Int = 300) async throws {
        var events: [Segmentd_V1_Event] = []
        _ = try await connection.ingestion.upsertProfiles(
            .with {
                $0.parent = parent
                $0.profiles = (0..<users).map { index in
                    .with {
                        $0.userID = "p\(index)"
                        $0.attributes = ["age": .number(Double(20 + index % 40))]
                    }
                }
            }, metadata: connection.metadata)
        for index in 0..<users {
            var random = SplitMix64(seed: UInt64(index) &* 7919 &+ 17)
            let regular = index % 3 == 0
            let sessions = regular ? 25 : 3
            for session in 0..<sessions {
                let time = now.addingTimeInterval(-(random.unit() * 74 + 0.5) * 86_400)
                events.append(.make("p\(index)", "app_open", at: time, id: "o-\(index)-\(session)"))
                if random.unit() < (regular ? 0.5 : 0.15) {
                    events.append(
                        .make("p\(index)", "add_to_cart", at: time.addingTimeInterval(60), id: "c-\(index)-\(session)", ["price": .number(20)]))
                    if random.unit() < (regular ? 0.45 : 0.2) {
                        events.append(
                            .make("p\(index)", "purchase", at: time.addingTimeInterval(120), id: "b-\(index)-\(session)", ["amount": .number(40)]))
                    }
                }
            }
        }
        for start in stride(from: 0, to: events.count, by: 1000) {
            _ = try await connection.ingestion.ingestEvents(
                .with {
                    $0.parent = parent
                    $0.events = Array(events[start..<min(start + 1000, events.count)])
                }, metadata: connection.metadata)
        }
    }

    static func createPredictive(
        _ connection: SegmentdConnection, _ id: String, goal: Segmentd_V1_PredictiveConfig.Goal = .convert, event: String = "purchase",
        bucket: Segmentd_V1_PredictiveConfig.Bucket = .high, schedule: Segmentd_V1_Schedule = .with { $0.manual = true }
    ) async throws -> Segmentd_V1_Segment {
        try await connection.segments.createSegment(
            .with {
                $0.parent = parent
                $0.segmentID = id
                $0.segment = .with { segment in
                    segment.kind = .predictive
                    segment.predictive = .with {
                        $0.goal = goal
                        $0.event = event
                        $0.horizonDays = 14
                        $0.bucket = bucket
                    }
                    segment.schedule = schedule
                }
            }, metadata: connection.metadata)
    }

    static func members(_ server: TestServer, _ id: String) async throws -> [Int] {
        try await server.database.scalar(
            "SELECT u.external_id FROM segment_members m JOIN users u USING (tenant_id, user_index) WHERE m.segment_id = '\(id)'", as: String.self
        ).compactMap { Int($0.dropFirst()) }
    }

    @Test("convert: train, card, top-20% bucket as members, explain with the strongest features")
    func convert() async throws {
        let now = Date()
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(connection, now: now)
                let segment = try await Self.createPredictive(connection, "likely_buyers")
                #expect(segment.kind == .predictive && segment.predictive.event == "purchase" && segment.predictive.horizonDays == 14)
                #expect(
                    await Self.code {
                        _ = try await connection.predictive.getModelCard(
                            .with { $0.name = Self.name("likely_buyers") + "/model" }, metadata: connection.metadata)
                    }.0 == .notFound)

                let operation = try await connection.predictive.trainModel(
                    .with { $0.segment = Self.name("likely_buyers") }, metadata: connection.metadata)
                #expect(operation.kind == .train)
                try await server.worker.drain()
                let done = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(done.state == .succeeded, "\(done.error.message)")
                #expect(done.training.holdoutAuc > 0.8)

                let card = try await connection.predictive.getModelCard(
                    .with { $0.name = Self.name("likely_buyers") + "/model" }, metadata: connection.metadata)
                #expect(card.algorithm == "logistic_regression")
                #expect(card.holdoutAuc > 0.8, "AUC \(card.holdoutAuc)")
                #expect(card.trainingUsers > 180 && card.trainingUsers < 270 && card.positiveUsers > 0)
                #expect(card.scoredUsers == 300)
                #expect(card.highThreshold >= card.mediumThreshold && card.mediumThreshold > 0)
                #expect(!card.calibration.isEmpty && card.calibration.reduce(0) { $0 + $1.count } == 300 - card.trainingUsers)
                #expect(card.weights.contains { $0.feature == "purchase.log_count_90d" } && card.weights.contains { $0.feature == "profile.age" })
                #expect(zip(card.weights, card.weights.dropFirst()).allSatisfy { abs($0.weight) >= abs($1.weight) })
                #expect(card.cutoffTime.date < now && card.trainTime.date <= Date())

                // Members are the high bucket: about a fifth of the scored users, nearly all of them regulars.
                let members = try await Self.members(server, "likely_buyers")
                #expect(members.count >= 50 && members.count <= 90, "\(members.count)")
                #expect(Double(members.filter { $0 % 3 == 0 }.count) >= 0.9 * Double(members.count))
                let buckets = try await server.database.scalar("SELECT bucket FROM predictive_scores ORDER BY score DESC", as: String.self)
                #expect(buckets.count == 300 && buckets.first == "high" && buckets.last == "low")

                let regular = members.first { $0 % 3 == 0 }!
                let explained = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.segment = Self.name("likely_buyers")
                        $0.userID = "p\(regular)"
                    }, metadata: connection.metadata)
                #expect(explained.member && explained.prediction.bucket == "high" && explained.prediction.score >= card.highThreshold)
                #expect(explained.prediction.contributions.count == 5)
                #expect(
                    zip(explained.prediction.contributions, explained.prediction.contributions.dropFirst())
                        .allSatisfy { abs($0.contribution) >= abs($1.contribution) })
                #expect(explained.root.observed.contains("high"))
                let outsider = (0..<300).first { !members.contains($0) }!
                let notMember = try await connection.rules.explainMembership(
                    .with {
                        $0.parent = Self.parent
                        $0.segment = Self.name("likely_buyers")
                        $0.userID = "p\(outsider)"
                    }, metadata: connection.metadata)
                #expect(!notMember.member && notMember.prediction.bucket != "high")

                // The operation's result and the segment's status show the training.
                let refreshed = try await connection.segments.getSegment(
                    .with { $0.name = Self.name("likely_buyers") }, metadata: connection.metadata)
                #expect(refreshed.size == Int64(members.count) && refreshed.lastRefresh.outcome == "succeeded")
            }
        }
    }

    @Test("churn and other buckets train too; retraining follows the schedule")
    func churnAndSchedule() async throws {
        let clock = ManualWallClock(Date())
        try await TestServer.with(configure: { $0.clock = clock.now }) { server in
            try await server.connect { connection in
                try await Self.seed(connection, now: clock.now())
                _ = try await Self.createPredictive(
                    connection, "leaving", goal: .churn, event: "", bucket: .low, schedule: .with { $0.everyHours = 24 })
                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("leaving") }, metadata: connection.metadata)
                #expect(segment.predictive.event == "app_open")
                _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("leaving") }, metadata: connection.metadata)
                try await server.worker.drain()
                let card = try await connection.predictive.getModelCard(
                    .with { $0.name = Self.name("leaving") + "/model" }, metadata: connection.metadata)
                #expect(card.config.goal == .churn && card.holdoutAuc > 0.6, "AUC \(card.holdoutAuc)")
                // Churn scores only users active lately; the low bucket (least likely to leave) is about half of them.
                #expect(card.scoredUsers > 100 && card.scoredUsers < 300)
                let members = try await Self.members(server, "leaving")
                #expect(members.count >= Int(card.scoredUsers) * 4 / 10)

                // A day later the scheduler enqueues a retraining (a train job, not a rule refresh).
                clock.advance(by: 25 * 3600)
                #expect(try await server.server.segmentStore.enqueueDueRefreshes() == 1)
                let operations = try await connection.operations.listOperations(
                    .with {
                        $0.parent = Self.parent
                        $0.target = Self.name("leaving")
                    }, metadata: connection.metadata
                ).operations
                #expect(operations.first?.kind == .train && operations.first?.state == .queued)
            }
        }
    }

    @Test("too little data is FAILED_PRECONDITION / INSUFFICIENT_DATA, at once and in the job (not retried)")
    func insufficientData() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await Self.seed(connection, now: Date(), users: 30)
                _ = try await Self.createPredictive(connection, "few", event: "purchase")
                let few = await Self.code {
                    _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("few") }, metadata: connection.metadata)
                }
                #expect(few.0 == .failedPrecondition && few.2 == "INSUFFICIENT_DATA" && few.1.contains("at least 50"), "\(few)")

                _ = try await Self.createPredictive(connection, "never", event: "subscribe")
                let none = await Self.code {
                    _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("never") }, metadata: connection.metadata)
                }
                #expect(none.0 == .failedPrecondition && none.2 == "INSUFFICIENT_DATA")

                // Through a refresh request the job fails once, with the reason, and is not retried.
                let operation = try await connection.segments.refreshSegment(.with { $0.name = Self.name("never") }, metadata: connection.metadata)
                try await server.worker.drain()
                let failed = try await connection.operations.getOperation(.with { $0.name = operation.name }, metadata: connection.metadata)
                #expect(failed.state == .failed && failed.attempt == 1 && failed.error.message.contains("INSUFFICIENT_DATA"))
                let segment = try await connection.segments.getSegment(.with { $0.name = Self.name("never") }, metadata: connection.metadata)
                #expect(segment.lastRefresh.outcome == "failed" && segment.size == 0)

                // Not predictive, not known, bad settings.
                _ = try await SegmentLifecycleTests.create(connection, "rules", "did purchase", schedule: .with { $0.manual = true })
                #expect(
                    await Self.code {
                        _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("rules") }, metadata: connection.metadata)
                    }.0 == .failedPrecondition)
                #expect(
                    await Self.code {
                        _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("nope") }, metadata: connection.metadata)
                    }.0 == .notFound)
                #expect(await Self.code { _ = try await Self.createPredictive(connection, "no_goal", goal: .unspecified) }.0 == .invalidArgument)
                #expect(
                    await Self.code { _ = try await Self.createPredictive(connection, "no_event", goal: .convert, event: "") }.0 == .invalidArgument)
            }
        }
    }

    @Test("permissions: predictive.manage trains; an analyst reads the card but cannot train")
    func permissions() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                _ = try await Self.createPredictive(connection, "p")
            }
            let analyst = try await server.createKey(roles: ["analyst"])
            try await server.connect(apiKey: analyst) { connection in
                #expect(
                    await Self.code {
                        _ = try await connection.predictive.trainModel(.with { $0.segment = Self.name("p") }, metadata: connection.metadata)
                    }.0 == .permissionDenied)
                #expect(
                    await Self.code {
                        _ = try await connection.predictive.getModelCard(.with { $0.name = Self.name("p") + "/model" }, metadata: connection.metadata)
                    }.0 == .notFound)
            }
        }
    }
}
