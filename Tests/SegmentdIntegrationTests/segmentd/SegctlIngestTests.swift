import Foundation
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("segctl ingest, tags, users and demo seed against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlIngestTests {
    @Test("demo seed is deterministic and idempotent; ingest reports bad records by line and resumes with --skip; tags and users work")
    func dataSession() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgding")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        let env = ["SEGMENTD_HOME": home]
        func segctl(_ arguments: [String]) throws -> CommandLineTool.Result {
            try CommandLineTool.segctl(arguments, environment: env)
        }

        let seeded = try segctl(["demo", "seed", "--users", "300", "--days", "14", "--json"])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(seeded.stdout.utf8)) as? [String: Any])
        let events = try #require(first["events"] as? Int)
        #expect(events > 1000)
        let again = try segctl(["demo", "seed", "--users", "300", "--days", "14", "--json"])
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(second["events"] as? Int == 0, "the same seed sends the same events, which are de-duplicated")
        let user = try segctl(["users", "get", "user-7"])
        #expect(user.stdout.contains("tier = "))
        #expect(user.stdout.contains("time_zone = "))
        let tags = try segctl(["tags", "list"])
        for tag in ["vip", "beta", "newsletter"] { #expect(tags.stdout.contains(tag)) }

        // The catalog: what rules can name, with types; the latest campaign marked "last".
        let catalog = try segctl(["catalog"])
        #expect(catalog.status == 0, "\(catalog.stderr)")
        for expected in ["EVENTS", "purchase", "amount (number)", "ATTRIBUTES", "tier", "CAMPAIGNS", "campaign_2", "last", "TAGS", "vip"] {
            #expect(catalog.stdout.contains(expected), "catalog lacks \(expected):\n\(catalog.stdout)")
        }
        let catalogJSON = try #require(
            try JSONSerialization.jsonObject(with: Data(try segctl(["catalog", "--json"]).stdout.utf8)) as? [String: Any])
        #expect(Set(catalogJSON.keys) == ["event_types", "attributes", "campaigns", "tags"])
        #expect((catalogJSON["event_types"] as? [Any])?.isEmpty == false)

        // Curating prints one line each; unpinning what is not pinned says nothing changed.
        #expect(try segctl(["segments", "create", "vips_shelf", "--rule", "has tag vip"]).status == 0)
        let pinned = try segctl(["ready-to-use", "pin", "vips_shelf", "--category", "loyalty"])
        #expect(pinned.stdout == "pinned vips_shelf on 'loyalty' at position 1\n", "\(pinned.stdout)\(pinned.stderr)")
        #expect(try segctl(["ready-to-use", "unpin", "vips_shelf"]).stdout == "unpinned vips_shelf from 'loyalty'\n")
        #expect(try segctl(["ready-to-use", "unpin", "vips_shelf"]).stdout == "vips_shelf was not pinned: nothing changed\n")

        // A full name where an id is expected is taken as it is; a waited refresh's result goes to stdout.
        let byName = try segctl(["segments", "get", "tenants/default/segments/vips_shelf"])
        #expect(byName.status == 0 && byName.stdout.contains("vips_shelf"), "\(byName.stderr)")
        let waited = try segctl(["segments", "refresh", "vips_shelf", "--wait"])
        #expect(waited.status == 0 && waited.stdout.contains("succeeded"), "stdout: \(waited.stdout) stderr: \(waited.stderr)")
        let finishedID = String(waited.stdout.split(separator: " ").first ?? "")
        let cancelled = try segctl(["jobs", "cancel", finishedID])
        #expect(cancelled.status != 0 && cancelled.stderr.contains("nothing to cancel"), "\(cancelled.stdout)\(cancelled.stderr)")
        // Several segments are refreshed together (one batch); a missing one refuses the batch.
        #expect(try segctl(["segments", "create", "buyers_shelf", "--rule", "did purchase in last 30d"]).status == 0)
        let together = try segctl(["segments", "refresh", "vips_shelf", "buyers_shelf", "--wait"])
        #expect(
            together.status == 0 && together.stdout.split(separator: "\n").filter { $0.contains("succeeded") }.count == 2,
            "stdout: \(together.stdout) stderr: \(together.stderr)")
        let missing = try segctl(["segments", "refresh", "vips_shelf", "nope_shelf"])
        #expect(missing.status != 0 && missing.stderr.contains("nope_shelf"), "\(missing.stdout)\(missing.stderr)")

        // Exports check their attributes and output file before any job starts.
        let exportFile = home + "/vips.csv"
        let typo = try segctl(["segments", "export", "vips_shelf", "--attributes", "teir", "--output", exportFile])
        #expect(typo.status != 0 && typo.stderr.contains("did you mean 'tier'?"), "\(typo.stderr)")
        #expect(!FileManager.default.fileExists(atPath: exportFile))
        #expect(try segctl(["segments", "export", "vips_shelf", "--attributes", "tier", "--output", exportFile]).status == 0)
        let overwrite = try segctl(["segments", "export", "vips_shelf", "--output", exportFile])
        #expect(overwrite.status != 0 && overwrite.stderr.contains("--force"), "\(overwrite.stderr)")
        #expect(try segctl(["segments", "export", "vips_shelf", "--output", exportFile, "--force"]).status == 0)

        // A file with a bad record on line 3: nothing of that batch is written; the message says where to resume.
        let file = home + "/events.ndjson"
        let good = #"{"user_id":"f1","name":"purchase","message_id":"f-1","properties":{"amount":12.5}}"#
        let bad = #"{"user_id":"f2","name":"purchase","message_id":"f-2","properties":{"amount":"lots"}}"#
        let more = #"{"user_id":"f3","name":"app_open","message_id":"f-3","time":"2026-01-01T10:00:00Z"}"#
        try [good, good.replacingOccurrences(of: "f-1", with: "f-1b"), bad, more].joined(separator: "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let rejected = try segctl(["ingest", "events", file, "--batch-size", "2"])
        #expect(rejected.status == 1)
        #expect(rejected.stderr.contains("line 3 properties.amount"), "\(rejected.stderr)")
        #expect(rejected.stderr.contains("--skip 2"))
        try [good, good.replacingOccurrences(of: "f-1", with: "f-1b"), bad.replacingOccurrences(of: #""lots""#, with: "7"), more]
            .joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let resumed = try segctl(["ingest", "events", file, "--skip", "2", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedCounts = try #require(try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        #expect(resumedCounts["accepted"] as? Int == 2)

        // CSV profiles: extra columns become typed attributes.
        let csv = home + "/profiles.csv"
        try "user_id,tier,score,opted_in\nc1,gold,4.5,true\nc2,silver,3,false\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let profiles = try segctl(["ingest", "profiles", csv])
        #expect(profiles.status == 0, "\(profiles.stderr)")
        let c1 = try segctl(["users", "get", "c1", "--json"])
        #expect(c1.stdout.contains("\"opted_in\""))
        #expect(c1.stdout.contains("\"bool_value\": true") || c1.stdout.contains("\"bool_value\" : true"))

        // Tags by hand.
        #expect(try segctl(["tags", "create", "churn_risk"]).status == 0)
        let assigned = try segctl(["tags", "assign", "--tag", "churn_risk", "c1", "c2", "f1"])
        #expect(assigned.stdout.hasPrefix("3 added"), "\(assigned.stdout)\(assigned.stderr)")
        #expect(try segctl(["tags", "users", "churn_risk"]).stdout.split(separator: "\n").sorted() == ["c1", "c2", "f1"])
        #expect(try segctl(["tags", "unassign", "--tag", "churn_risk", "c2"]).stdout.hasPrefix("1 removed"))
        let refused = try segctl(["users", "delete", "f1"])
        #expect(refused.status != 0 && refused.stderr.contains("pass --yes"), "\(refused.stderr)")
        let erased = try segctl(["users", "delete", "f1", "--yes"])
        #expect(erased.stdout.contains("2 events") && erased.stdout.contains("1 tag") && !erased.stdout.contains("rollups"), "\(erased.stdout)")
        #expect(try segctl(["tags", "users", "churn_risk"]).stdout.split(separator: "\n") == ["c1"])
    }
}
