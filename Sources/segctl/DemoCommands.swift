import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Synthetic data for trying Segmentd out.", subcommands: [Seed.self])

        struct Seed: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send a deterministic synthetic data set through the public API.",
                discussion: """
                    Users with tiers, languages, cities (with coordinates and time zones); an app_open → view_item → \
                    add_to_cart → purchase funnel with amounts and skewed activity; weekly campaigns with sends, opens \
                    and clicks; tags vip, beta and newsletter. The same --seed, size and day give the same data, so \
                    running it twice changes nothing.
                    """)
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("users"), help: "How many users.") var users = 1000
            @Option(name: .customLong("days"), help: "Days of history, ending today (UTC midnight).") var days = 30
            @Option(name: .customLong("seed"), help: "Random seed.") var seed: UInt64 = 1
            @Option(name: .customLong("parallel"), help: "Batches in flight at once.") var parallel = 4
            @Option(
                name: .customLong("event-types"), help: "Distinct event names: the funnel's 4, up to 20 with page_view, search, share and others.")
            var eventTypes = 4
            @Option(name: .customLong("activity"), help: "Scales sessions per user (which grow with --days); 0.15 at 90 days ≈ 1 at 25.")
            var activity = 1.0

            func validate() throws {
                guard (1...10_000_000).contains(users) else { throw ValidationError("--users must be 1 to 10,000,000") }
                guard (1...365).contains(days) else { throw ValidationError("--days must be 1 to 365") }
                guard (1...32).contains(parallel) else { throw ValidationError("--parallel must be 1 to 32") }
                guard (4...20).contains(eventTypes) else { throw ValidationError("--event-types must be 4 to 20") }
                guard activity > 0, activity <= 10 else { throw ValidationError("--activity must be above 0 and at most 10") }
            }

            func run() async throws {
                let generator = DemoDataGenerator(
                    size: .init(users: users, days: days, eventTypes: eventTypes, activity: activity), seed: seed, anchor: DemoDataGenerator.today())
                try await runCommand {
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        let started = Date()
                        // Profiles first, then events and responses per block of users, then tags.
                        let profiles = Progress(total: users, unit: "profiles")
                        for start in stride(from: 0, to: users, by: 1000) {
                            let batch = (start..<min(start + 1000, users)).map { generator.profile($0) }
                            _ = try await client.ingestion.upsertProfiles(
                                .with {
                                    $0.parent = tenant
                                    $0.profiles = batch
                                }, metadata: client.metadata)
                            profiles.update(start + batch.count)
                        }
                        profiles.finish(users)

                        let progress = Progress(total: users, unit: "users' events")
                        var totals = (events: Int64(0), responses: Int64(0))
                        var events: [Segmentd_V1_Event] = []
                        var responses: [Segmentd_V1_CampaignResponse] = []
                        try await withThrowingTaskGroup(of: (Int64, Int64).self) { group in
                            var inFlight = 0
                            func flush(_ final: Bool) async throws {
                                while events.count >= 1000 || (final && !events.isEmpty) || responses.count >= 1000 || (final && !responses.isEmpty) {
                                    let eventBatch = Array(events.prefix(1000))
                                    events.removeFirst(eventBatch.count)
                                    let responseBatch = Array(responses.prefix(1000))
                                    responses.removeFirst(responseBatch.count)
                                    if inFlight >= parallel, let (e, r) = try await group.next() {
                                        totals.events += e
                                        totals.responses += r
                                        inFlight -= 1
                                    }
                                    inFlight += 1
                                    group.addTask {
                                        var accepted = (Int64(0), Int64(0))
                                        if !eventBatch.isEmpty {
                                            accepted.0 = try await client.ingestion.ingestEvents(
                                                .with {
                                                    $0.parent = tenant
                                                    $0.events = eventBatch
                                                }, metadata: client.metadata
                                            ).accepted
                                        }
                                        if !responseBatch.isEmpty {
                                            accepted.1 = try await client.ingestion.recordCampaignResponses(
                                                .with {
                                                    $0.parent = tenant
                                                    $0.responses = responseBatch
                                                }, metadata: client.metadata
                                            ).accepted
                                        }
                                        return accepted
                                    }
                                }
                            }
                            for user in 0..<users {
                                events += generator.events(ofUser: user)
                                responses += generator.responses(ofUser: user)
                                try await flush(false)
                                if user % 100 == 0 { progress.update(user) }
                            }
                            try await flush(true)
                            for try await (e, r) in group {
                                totals.events += e
                                totals.responses += r
                            }
                        }
                        progress.finish(users)

                        var tagged = 0
                        for tag in DemoDataGenerator.tags {
                            _ = try? await client.tags.createTag(
                                .with {
                                    $0.parent = tenant
                                    $0.tagID = tag.id
                                }, metadata: client.metadata)
                            let members = (0..<users).filter { generator.tags(ofUser: $0).contains(tag.id) }.map(DemoDataGenerator.userID)
                            for start in stride(from: 0, to: members.count, by: 10_000) {
                                let chunk = Array(members[start..<min(start + 10_000, members.count)])
                                _ = try await client.tags.assignTags(
                                    .with {
                                        $0.parent = tenant
                                        $0.tags = [tag.id]
                                        $0.userIds = chunk
                                    }, metadata: client.metadata)
                            }
                            tagged += members.count
                        }
                        let seconds = Date().timeIntervalSince(started)
                        if connection.json {
                            printJSON([
                                "users": users, "events": totals.events, "responses": totals.responses, "tag_assignments": tagged, "seconds": seconds,
                            ])
                        } else {
                            print(
                                String(
                                    format: "seeded %d users, %lld new events, %lld new responses, %d tag assignments in %.1f s",
                                    users, totals.events, totals.responses, tagged, seconds))
                        }
                    }
                }
            }
        }
    }
}
