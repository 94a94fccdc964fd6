import Foundation
import GRPCCore
import SegmentDomain
import SegmentStore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("The segmentd and segctl binaries", .serialized, .timeLimit(.minutes(10)))
struct SegmentdProcessTests {
    @Test(
        "embedded default: one command gives a server that segctl reaches; metrics are served; SIGTERM during a call drains it, stops PostgreSQL and exits 0"
    )
    func embeddedServerEndToEnd() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdhome")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home, arguments: ["--metrics-listen", "127.0.0.1:0"])
        defer { segmentd.stop() }
        let settings = try await segmentd.waitUntilServing()

        // segctl finds everything through SEGMENTD_HOME alone.
        let env = ["SEGMENTD_HOME": home]
        let health = try CommandLineTool.segctl(["health"], environment: env)
        #expect(health.status == 0, "\(health.stderr)")
        #expect(health.stdout.contains("SERVING"))
        let whoami = try CommandLineTool.segctl(["whoami", "--json"], environment: env)
        #expect(whoami.status == 0, "\(whoami.stderr)")
        let identity = try JSONSerialization.jsonObject(with: Data(whoami.stdout.utf8)) as? [String: Any]
        #expect(identity?["tenant"] as? String == "tenants/default")
        #expect(identity?["roles"] as? [String] == ["owner"])
        let version = try CommandLineTool.segctl(["version"], environment: env)
        #expect(version.stdout.contains("segmentd 0.1.0"))

        // Plain one-line errors.
        let badKey = try CommandLineTool.segctl(["whoami", "--api-key", "sgd_live_wrong"], environment: env)
        #expect(badKey.status == 1)
        #expect(badKey.stderr.contains("API key was rejected"))
        let wrongCA = try CommandLineTool.segctl(["whoami", "--ca", "/etc/ssl/certs/ca-certificates.crt"], environment: env)
        #expect(wrongCA.status == 1)
        #expect(wrongCA.stderr.contains("certificate is not trusted"))
        let notRunning = try CommandLineTool.segctl(["health", "--addr", "127.0.0.1:1"], environment: env)
        #expect(notRunning.status == 1)
        #expect(notRunning.stderr.contains("is the server running?"))

        // Metrics: RPCs by method and code, pool use.
        let metricsLine = try #require(segmentd.log.split(separator: "\n").first { $0.contains("metrics listening") })
        let address = try #require(metricsLine.split(separator: "address=").last?.split(separator: " ").first)
        let (body, _) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
        let metrics = String(decoding: body, as: UTF8.self)
        #expect(metrics.contains("segmentd_rpc_requests_total"))
        #expect(metrics.contains(#"method="segmentd.v1.AccessService/GetCallerIdentity""#))
        #expect(metrics.contains(#"code="UNAUTHENTICATED""#))
        #expect(metrics.contains("segmentd_db_connections_in_use"))

        // Job metrics: a refresh of a predictive segment with no data fails at once (not retried) and is counted.
        let created = try CommandLineTool.segctl(
            ["segments", "create", "buyers", "--predict", "convert", "--event", "purchase", "--schedule", "manual"], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        let refreshed = try CommandLineTool.segctl(["segments", "refresh", "buyers", "--wait"], environment: env)
        #expect(
            refreshed.status != 0 && (refreshed.stdout + refreshed.stderr).contains("INSUFFICIENT_DATA"), "\(refreshed.stdout) \(refreshed.stderr)")
        let failedAttempts = #"segmentd_job_attempts_failed_total{kind="train",state="failed"} 1"#
        // The worker counts the attempt just after recording it, while the operation's waiter is woken: allow it a moment.
        var scraped = ""
        for _ in 0..<20 {
            let (body, _) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
            scraped = String(decoding: body, as: UTF8.self)
            if scraped.contains(failedAttempts) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(scraped.contains(failedAttempts), "\(scraped)")
        // The queue is sampled at start-up: every kind and state has a gauge (nothing waits here).
        for kind in JobKind.allCases {
            for state in ["queued", "retrying", "running"] {
                #expect(scraped.contains(#"segmentd_jobs{kind="\#(kind.rawValue)",state="\#(state)"} 0.0"#), "\(kind) \(state)")
            }
            #expect(scraped.contains(#"segmentd_jobs_oldest_queued_age_seconds{kind="\#(kind.rawValue)"} 0.0"#), "\(kind)")
        }
        // Every metric family has one line of help, and the help is for that family.
        let families = Set(scraped.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        let helped = Set(
            scraped.split(separator: "\n").filter { $0.hasPrefix("# HELP ") && $0.split(separator: " ").count > 3 }.map {
                $0.split(separator: " ")[2]
            })
        #expect(families.count >= 10, "\(families)")
        #expect(families.subtracting(helped).isEmpty, "no # HELP for \(families.subtracting(helped).sorted())")

        // SIGTERM while a Watch call is open: the call ends cleanly, the process exits 0.
        let postmasterPID = home + "/postgres/data/postmaster.pid"
        #expect(FileManager.default.fileExists(atPath: postmasterPID))
        let ended = try await SegmentdConnection.with(settings) { connection in
            try await connection.health.watch(.init()) { response in
                var statuses: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
                for try await message in response.messages {
                    statuses.append(message.status)
                    if statuses.count == 1 { segmentd.send(SIGTERM) }
                }
                return statuses
            }
        }
        #expect(ended.first == .serving)
        #expect(try await segmentd.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: postmasterPID), "the embedded PostgreSQL is still running")
        #expect(segmentd.log.contains("stopping the embedded PostgreSQL"))
    }

    @Test("two segmentd processes migrating one empty database at the same time both come up healthy")
    func twoReplicasMigrateTogether() async throws {
        let database = try await TestDatabase.create()
        let arguments = [
            "--database-url", TestDatabase.url(database.app),
            "--migration-database-url", TestDatabase.url(database.owner),
        ]
        let homes = try (0..<2).map { _ in try TestEnvironment.temporaryDirectory("sgdrep") }
        defer { homes.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let replicas = try homes.map { try SegmentdProcess(home: $0, arguments: arguments) }
        defer { replicas.forEach { $0.stop() } }

        var keys: [String] = []
        for replica in replicas {
            let settings = try await replica.waitUntilServing()
            let status = try await SegmentdConnection.with(settings) { try await $0.health.check(.init()).status }
            #expect(status == .serving)
            if let key = settings.apiKey { keys.append(key) }
        }
        // Exactly one of them bootstrapped the installation; its key works on both.
        #expect(keys.count == 1)
        for replica in replicas {
            var settings = try await replica.waitUntilServing()
            settings.apiKey = keys.first
            let identity = try await SegmentdConnection.with(settings) { connection in
                try await connection.access.getCallerIdentity(.init(), metadata: connection.metadata)
            }
            #expect(identity.tenant == "tenants/default")
        }
        let migrationsApplied = replicas.map { $0.log.components(separatedBy: "applying migration").count - 1 }
        // One replica applied every migration; the other, waiting on the lock, found nothing to do.
        #expect(migrationsApplied.sorted() == [0, Migrations.all.count])
        for replica in replicas {
            replica.send(SIGTERM)
            #expect(try await replica.waitForExit() == 0)
        }
    }

    @Test("bad configuration is refused at startup with the key to fix")
    func invalidConfiguration() throws {
        let home = try TestEnvironment.temporaryDirectory("sgdbad")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result = try CommandLineTool.run(
            try TestEnvironment.binDirectory + "/segmentd", ["--home", home, "--listen", "localhost:99999"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--listen"))
        let help = try CommandLineTool.run(try TestEnvironment.binDirectory + "/segmentd", ["--help"])
        #expect(help.stdout.contains("SEGMENTD_DATABASE_URL"))

        // The config file is read too, and checked: unknown keys and bad values are named.
        let config = home + "/segmentd.json"
        try #"{"listen": "127.0.0.1:7443", "lisen": "x"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let unknownKey = try CommandLineTool.run(try TestEnvironment.binDirectory + "/segmentd", ["--config", config])
        #expect(unknownKey.status != 0)
        #expect(unknownKey.stderr.contains("unknown key 'lisen'"))
        try #"{"log_level": "loud"}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let badValue = try CommandLineTool.run(
            try TestEnvironment.binDirectory + "/segmentd", ["--home", home], environment: ["SEGMENTD_CONFIG": config])
        #expect(badValue.status != 0)
        #expect(badValue.stderr.contains("--log-level / SEGMENTD_LOG_LEVEL"))
        // A flag wins over the file.
        let flagWins = try CommandLineTool.run(
            try TestEnvironment.binDirectory + "/segmentd", ["--home", home, "--config", config, "--log-level", "info", "--listen", "nope"])
        #expect(flagWins.stderr.contains("--listen"))
        #expect(!flagWins.stderr.contains("log-level"))
    }
}
