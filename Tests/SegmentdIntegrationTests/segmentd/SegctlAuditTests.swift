import Foundation
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("segctl audit list for people, against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlAuditTests {
    @Test("audit list shows old → new per changed field, the key's name beside its prefix, a refused call's target; --actor takes a key's name")
    func readableAuditLog() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdaudit")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        func segctl(_ arguments: [String], key: String? = nil) throws -> CommandLineTool.Result {
            var environment = ["SEGMENTD_HOME": home]
            if let key { environment["SEGMENTD_API_KEY"] = key }
            return try CommandLineTool.segctl(arguments, environment: environment)
        }
        func secret(_ result: CommandLineTool.Result) throws -> String {
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return try #require(object?["secret"] as? String)
        }

        // A deploy key changes a segment; a dashboard key tries to and is refused.
        let deployer = try secret(try segctl(["keys", "create", "ci-deployer", "--role", "editor", "--json"]))
        let dashboard = try secret(try segctl(["keys", "create", "dashboard", "--role", "viewer", "--json"]))
        let created = try segctl(
            ["segments", "create", "vip", "--rule", "has tag vip", "--display-name", "VIP", "--schedule", "manual"], key: deployer)
        #expect(created.status == 0, "\(created.stderr)")
        let updated = try segctl(["segments", "update", "vip", "--display-name", "VIP buyers", "--schedule", "every:6h"], key: deployer)
        #expect(updated.status == 0, "\(updated.stderr)")
        let refused = try segctl(["segments", "update", "vip", "--display-name", "mine now"], key: dashboard)
        #expect(refused.status == 1 && refused.stderr.contains("segments.write"), "\(refused.stderr)")

        // --actor by the key's name: only its entries, each showing the name beside the prefix.
        let byName = try segctl(["audit", "list", "--actor", "ci-deployer"])
        #expect(byName.status == 0, "\(byName.stderr)")
        let lines = byName.stdout.split(separator: "\n").dropFirst().map(String.init)
        #expect(lines.count == 2, "\(byName.stdout)")
        #expect(lines.allSatisfy { $0.contains("… (ci-deployer)") && $0.contains("key sgd_") }, "\(byName.stdout)")
        let update = try #require(lines.first { $0.contains("SegmentService/UpdateSegment") }, "\(byName.stdout)")
        #expect(update.contains(#"display_name: "VIP" → "VIP buyers""#), "\(update)")
        #expect(
            update.contains(
                #"schedule: {after_dependencies: false, cadence: "manual"} → {after_dependencies: false, cadence: "every_hours", hours: 6}"#),
            "\(update)")
        #expect(!update.contains("rule:"), "unchanged fields are not shown: \(update)")
        let create = try #require(lines.first { $0.contains("SegmentService/CreateSegment") })
        #expect(create.contains(#"display_name: "VIP""#) && create.contains(#"rule: "has tag vip""#), "\(create)")

        // The refused call names the segment it was aimed at, and the key that tried.
        let all = try segctl(["audit", "list"])
        let denied = try #require(all.stdout.split(separator: "\n").first { $0.contains("PERMISSION_DENIED") }, "\(all.stdout)")
        #expect(denied.contains("tenants/default/segments/vip"), "\(denied)")
        #expect(denied.contains("(dashboard)"), "\(denied)")
        #expect(denied.contains(#"missing_permission: "segments.write""#), "\(denied)")
        #expect(try segctl(["audit", "list", "--actor", "dashboard"]).stdout.contains("PERMISSION_DENIED"))

        // A name no key has says so (and fails) rather than listing nothing.
        let nobody = try segctl(["audit", "list", "--actor", "ci-deployr"])
        #expect(nobody.status == 1)
        #expect(nobody.stderr.contains("no API key is named 'ci-deployr'"), "\(nobody.stderr)")
        #expect(nobody.stdout.isEmpty)
        // Actor names are still taken as they are.
        #expect(try segctl(["audit", "list", "--actor", "system"]).stdout.contains("system"))

        // The JSON form carries the key's name; the chain verifies.
        let json = try segctl(["audit", "list", "--actor", "ci-deployer", "--json"])
        #expect(json.stdout.contains("\"actor_key_display_name\"") && json.stdout.contains("ci-deployer"), "\(json.stdout)")
        let verify = try segctl(["audit", "verify"])
        #expect(verify.status == 0 && verify.stdout.hasPrefix("OK:"), "\(verify.stdout)\(verify.stderr)")
    }
}
