import Foundation
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("segctl: a segment's freshness and refreshing with a change, against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlFreshnessTests {
    @Test(
        "create --refresh --wait shows the refreshed segment; get and list say never refreshed, refreshed for revision N or stale, and the next refresh"
    )
    func freshness() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdfresh")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        let env = ["SEGMENTD_HOME": home]
        func segctl(_ arguments: [String]) throws -> CommandLineTool.Result {
            try CommandLineTool.segctl(arguments, environment: env)
        }
        let seeded = try segctl(["demo", "seed", "--users", "200", "--days", "14"])
        #expect(seeded.status == 0, "\(seeded.stderr)")

        // Every option of the changing commands says what it does.
        for command in ["create", "update", "rollback"] {
            let help = try segctl(["segments", command, "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(help.contains("--refresh") && help.contains("Refresh the segment right after the change"), "\(help)")
            #expect(help.contains("--wait") && help.contains("follow the refresh to the end"), "\(help)")
        }

        // A new manual segment: no members yet, and nothing will refresh it on its own.
        let manual = try segctl(["segments", "create", "vips", "--rule", "has tag vip", "--schedule", "manual"])
        #expect(manual.status == 0, "\(manual.stderr)")
        #expect(manual.stdout.contains("freshness     never refreshed: no members computed yet"), "\(manual.stdout)")
        #expect(manual.stdout.contains("next refresh  none: the schedule is manual (segctl segments refresh vips)"), "\(manual.stdout)")
        #expect(manual.stdout.contains("real time     no\n"), "\(manual.stdout)")

        // Real time: set at create, shown by get and list, turned off by update; only with --rule.
        let realTime = try segctl(["segments", "create", "vips_now", "--rule", "has tag vip", "--schedule", "manual", "--real-time"])
        #expect(realTime.status == 0, "\(realTime.stderr)")
        #expect(realTime.stdout.contains("real time     yes\n"), "\(realTime.stdout)")
        #expect(try segctl(["segments", "get", "vips_now"]).stdout.contains("real time     yes\n"))
        #expect(try segctl(["segments", "list"]).stdout.contains("real-time, manual"))
        let realTimeOff = try segctl(["segments", "update", "vips_now", "--real-time", "false"])
        #expect(realTimeOff.status == 0, "\(realTimeOff.stderr)")
        #expect(realTimeOff.stdout.contains("real time     no\n") && realTimeOff.stdout.contains("revision      2 "), "\(realTimeOff.stdout)")
        let connectorRealTime = try segctl(["segments", "create", "crm", "--connector", "push", "--real-time"])
        #expect(connectorRealTime.status != 0 && connectorRealTime.stderr.contains("--real-time goes with --rule"), "\(connectorRealTime.stderr)")

        // Created and refreshed in one go: the result (stdout) is the segment as the refresh left it,
        // the progress went to stderr.
        let created = try segctl(["segments", "create", "buyers", "--rule", "did purchase", "--schedule", "manual", "--refresh", "--wait"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("freshness     refreshed ") && created.stdout.contains(" for revision 1\n"), "\(created.stdout)")
        #expect(created.stdout.contains("refresh       started as operation "), "\(created.stdout)")
        #expect(created.stderr.contains("refresh  succeeded  buyers"), "\(created.stderr)")
        #expect(!created.stdout.contains("succeeded  buyers"), "progress stays off stdout: \(created.stdout)")
        let size = try #require(created.stdout.split(separator: "\n").first { $0.hasPrefix("size ") })
        #expect(size != "size          0", "\(created.stdout)")

        // A new rule without a refresh: the members are the old rule's, and get says so.
        let updated = try segctl(["segments", "update", "buyers", "--rule", "did purchase in last 3d"])
        #expect(updated.status == 0, "\(updated.stderr)")
        let stale =
            "freshness     stale: revision 2 changed the rule since the refresh for revision 1; "
            + "the members still follow revision 1 until the next refresh"
        #expect(updated.stdout.contains(stale), "\(updated.stdout)")
        let shown = try segctl(["segments", "get", "buyers"])
        #expect(shown.stdout.contains(stale), "\(shown.stdout)")
        let listed = try segctl(["segments", "list"])
        #expect(listed.stdout.contains("FRESHNESS") && listed.stdout.contains("NEXT REFRESH"), "\(listed.stdout)")
        #expect(listed.stdout.contains("stale (rev 1, changed in 2)") && listed.stdout.contains("never refreshed"), "\(listed.stdout)")

        // Rolled back with --wait: refreshed for the new revision.
        let rolledBack = try segctl(["segments", "rollback", "buyers", "1", "--wait"])
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        #expect(rolledBack.stdout.contains(" for revision 3\n") && rolledBack.stdout.contains("freshness     refreshed "), "\(rolledBack.stdout)")
        #expect(try segctl(["segments", "list"]).stdout.contains("fresh (rev 3)"))

        // A scheduled segment refreshed at once shows when its schedule refreshes it next.
        let scheduled = try segctl(["segments", "create", "every6", "--rule", "did purchase", "--schedule", "every:6h", "--wait"])
        #expect(scheduled.status == 0, "\(scheduled.stderr)")
        let next = try #require(scheduled.stdout.split(separator: "\n").first { $0.hasPrefix("next refresh ") })
        #expect(next.hasSuffix("Z") && !next.contains("due now"), "\(scheduled.stdout)")

        // Nothing to refresh when only validating.
        let validating = try segctl(["segments", "create", "x", "--rule", "did purchase", "--validate-only", "--refresh"])
        #expect(validating.status != 0 && validating.stderr.contains("--validate-only saves nothing to refresh"), "\(validating.stderr)")
    }
}
