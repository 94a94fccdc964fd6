import Foundation
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("segctl: connector and predictive segments against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlSegmentKindsTests {
    @Test("create a connector, import a file and push ids; create a predictive segment, train it, read its card, explain a member")
    func kinds() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdkinds")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        let env = ["SEGMENTD_HOME": home]
        func segctl(_ arguments: [String]) throws -> CommandLineTool.Result {
            try CommandLineTool.segctl(arguments, environment: env)
        }
        let seeded = try segctl(["demo", "seed", "--users", "600", "--days", "45"])
        #expect(seeded.status == 0, "\(seeded.stderr)")

        // Connector: uploaded file, then pushed ids.
        let created = try segctl(["segments", "create", "crm_list", "--connector", "file", "--schedule", "manual"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("connector: uploaded files"))
        let file = home + "/ids.csv"
        try "user_id\nuser-1\nuser-2\nuser-3\nnobody-9\n".write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try segctl(["segments", "import", "crm_list", file, "--sync-id", "crm-2026-12-01"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("4 ids: 3 matched known users, 1 unknown"), "\(imported.stdout)")
        #expect(imported.stdout.contains("unknown ids (sample): nobody-9"))
        #expect(imported.stdout.contains("members: 3 (+3 entered, -0 exited)"))
        let again = try segctl(["segments", "import", "crm_list", file, "--sync-id", "crm-2026-12-01", "--replace"])
        #expect(again.stdout == imported.stdout, "the same sync id returns the first result")
        let pushed = try segctl(["segments", "push", "crm_list", "user-4", "user-5"])
        #expect(pushed.status == 0 && pushed.stdout.contains("members: 5 (+2 entered, -0 exited)"), "\(pushed.stdout) \(pushed.stderr)")
        let shown = try segctl(["segments", "get", "crm_list"])
        #expect(shown.stdout.contains("6 ids sent, 5 matched known users, 1 unknown"), "\(shown.stdout)")
        let check = try segctl(["check", "user-4", "crm_list"])
        #expect(check.status == 0 && check.stdout.contains("crm_list"), "\(check.stdout)")
        let badFile = home + "/bad.ndjson"
        try "{\"user_id\":\"user-1\"}\n{oops}\n".write(toFile: badFile, atomically: true, encoding: .utf8)
        let bad = try segctl(["segments", "import", "crm_list", badFile, "--replace"])
        #expect(bad.status != 0 && bad.stderr.contains("line 2: not a JSON object"), "\(bad.stderr)")

        // Predictive: create, train, card, explain.
        let predictive = try segctl([
            "segments", "create", "likely_buyers", "--predict", "convert", "--event", "purchase", "--horizon-days", "14", "--bucket", "high",
            "--schedule", "manual",
        ])
        #expect(predictive.status == 0, "\(predictive.stderr)")
        #expect(predictive.stdout.contains("high likelihood to perform purchase within 14 days"), "\(predictive.stdout)")
        let trained = try segctl(["segments", "train", "likely_buyers", "--wait"])
        #expect(trained.status == 0, "\(trained.stdout) \(trained.stderr)")
        let card = try segctl(["segments", "model", "likely_buyers"])
        #expect(card.status == 0, "\(card.stderr)")
        for text in [
            "algorithm    logistic_regression", "holdout AUC", "calibration (holdout)", "weights (standardised features", "purchase.log_count_",
        ] {
            #expect(card.stdout.contains(text), "\(text) in \(card.stdout)")
        }
        let members = try segctl(["segments", "members", "likely_buyers"])
        let member = try #require(members.stdout.split(separator: "\n").first.map(String.init), "\(members.stderr)")
        let explained = try segctl(["segments", "explain", "likely_buyers", "--user", member])
        #expect(
            explained.status == 0 && explained.stdout.contains("is in likely_buyers") && explained.stdout.contains("strongest features"),
            "\(explained.stdout) \(explained.stderr)")
        let bogus = try segctl(["segments", "create", "x", "--predict", "convert"])
        #expect(bogus.status != 0 && bogus.stderr.contains("--predict convert needs --event"), "\(bogus.stderr)")
    }
}
