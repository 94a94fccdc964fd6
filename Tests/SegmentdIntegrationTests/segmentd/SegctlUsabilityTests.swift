import Foundation
import SegmentdClient
import SegmentdTestSupport
import Testing

/// segctl as a marketer and an administrator meet it: warnings where they save,
/// what validate-only would create, flags in either place, each command's own
/// usage for its mistakes, breakdowns that read, and an erasure that asks first.
@Suite("segctl usability against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlUsabilityTests {
    @Test("warnings with suggestions, validate-only, connection flags anywhere, per-command usage, limits, inspect --by, missing key")
    func session() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdusab")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(home: home)
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        let env = ["SEGMENTD_HOME": home]
        func segctl(_ arguments: [String]) throws -> CommandLineTool.Result {
            try CommandLineTool.segctl(arguments, environment: env)
        }
        #expect(try segctl(["demo", "seed", "--users", "200", "--days", "7"]).status == 0)

        // A typo saves (data may come later) but says what it probably meant, on stderr.
        let created = try segctl(["segments", "create", "x1b", "--rule", "did purchse in last 7d"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stderr.contains("warning: behavior: no purchse event has been received yet; did you mean purchase?"), "\(created.stderr)")
        #expect(created.stdout.contains("x1b") && !created.stdout.contains("warning"))
        let updated = try segctl(["segments", "update", "x1b", "--rule", "has tag vpi"])
        #expect(updated.stderr.contains("there is no tag vpi yet; did you mean vip?"), "\(updated.stderr)")
        let preview = try segctl(["rules", "preview", "did not purchse in last 7d"])
        #expect(preview.stdout.contains("200 members"), "\(preview.stdout)")
        #expect(preview.stderr.contains("did you mean purchase?"), "\(preview.stderr)")

        // validate-only shows what would be created, not the fields of a saved segment.
        let draft = try segctl(["segments", "create", "x2", "--rule", "did purchse in last 7d", "--validate-only"])
        #expect(draft.status == 0, "\(draft.stderr)")
        #expect(draft.stdout.hasPrefix("valid: would create tenants/default/segments/x2 (nothing was saved)"), "\(draft.stdout)")
        #expect(draft.stdout.contains("did purchse in last 7d"))
        #expect(!draft.stdout.contains("unspecified") && !draft.stdout.contains("revision"), "\(draft.stdout)")
        #expect(draft.stderr.contains("did you mean purchase?"))
        #expect(try segctl(["segments", "get", "x2"]).status != 0)

        // rules check and create agree on a segment that does not exist.
        let check = try segctl(["rules", "check", "in segment x1c"])
        #expect(check.status == 1)
        #expect(check.stdout.contains("error: segment: segment x1c does not exist (or is deleted); did you mean x1b?"), "\(check.stdout)")
        let refused = try segctl(["segments", "create", "refers", "--rule", "in segment x1c"])
        #expect(refused.status != 0 && refused.stderr.contains("segment x1c does not exist"), "\(refused.stderr)")

        // Connection flags before, between or after the subcommands mean the same.
        for arguments in [
            ["--home", home, "segments", "get", "x1b"], ["segments", "--home", home, "get", "x1b"], ["segments", "get", "x1b", "--home", home],
            ["--home=\(home)", "--json", "segments", "get", "x1b"],
        ] {
            let result = try CommandLineTool.segctl(arguments)
            #expect(result.status == 0 && result.stdout.contains("tenants/default/segments/x1b"), "\(arguments): \(result.stderr)")
        }

        // A command's mistakes print its own usage, not segctl's.
        for (arguments, usage, message) in [
            (["segments", "create", "x3", "--rule", "did purchase", "--schedule", "hourly"], "segctl segments create", "--schedule: manual"),
            (["rules", "preview"], "segctl rules preview", "give the rule as an argument"),
            (["segments", "update", "x1b"], "segctl segments update", "nothing to change"),
            (["rules", "preview", "--sample", "0", "did purchase"], "segctl rules preview", "--sample: 1-1000"),
        ] {
            let result = try segctl(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains("Usage: \(usage)") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("SUBCOMMANDS"), "\(arguments): \(result.stderr)")
        }
        #expect(try segctl(["rules", "preview", "--help"]).stdout.contains("Members to show (1-1000)"))

        // Breakdowns: an unknown attribute says so; a number gets ranges; past --top, one (other) row.
        #expect(try segctl(["segments", "create", "everyone", "--rule", "profile.age > 0", "--schedule", "manual"]).status == 0)
        #expect(try segctl(["segments", "refresh", "everyone", "--wait"]).status == 0)
        let unknown = try segctl(["segments", "inspect", "everyone", "--by", "aeg"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no profile has the attribute aeg; did you mean age?"), "\(unknown.stderr)")
        let ages = try JSONSerialization.jsonObject(with: Data(try segctl(["segments", "inspect", "everyone", "--by", "age", "--json"]).stdout.utf8))
        let rows = try #require((ages as? [String: Any])?["breakdown"] as? [[String: Any]])
        // Ages 18-67 in about 5 ranges of a round width: 10 to 20, …, 60 to 70.
        #expect(rows.map { $0["value"] as? String } == ["10 to 20", "20 to 30", "30 to 40", "40 to 50", "50 to 60", "60 to 70"])
        #expect(rows.compactMap { Int($0["count"] as? String ?? "") }.reduce(0, +) == 200)
        let byRanges = try segctl(["segments", "inspect", "everyone", "--by", "age", "--buckets", "2"])
        // About 2 ranges over 18-67: a width of 25 (1, 2, 2.5 or 5 times a power of ten) from 0.
        #expect(
            byRanges.stdout.contains("0 to 25") && byRanges.stdout.contains("25 to 50") && byRanges.stdout.contains("50 to 75"),
            "\(byRanges.stdout)")
        let cities = try segctl(["segments", "inspect", "everyone", "--by", "city", "--top", "2"])
        let cityRows = cities.stdout.split(separator: "\n").drop { !$0.hasPrefix("VALUE") }.dropFirst()
        #expect(cityRows.count == 3 && cityRows.last?.hasPrefix("(other)") == true, "\(cities.stdout)")

        // Without a key, the message says where segctl looked and how to point it elsewhere.
        let empty = try TestEnvironment.temporaryDirectory("sgdnokey")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let noKey = try CommandLineTool.segctl(["segments", "list"], environment: ["SEGMENTD_HOME": empty])
        #expect(noKey.status != 0)
        #expect(
            noKey.stderr.contains("\(empty)/segctl.json") && noKey.stderr.contains("SEGMENTD_HOME") && noKey.stderr.contains("--home"),
            "\(noKey.stderr)")
    }

    @Test("every option and argument of every command has help text")
    func everyOptionHasHelp() throws {
        let dump = try CommandLineTool.segctl(["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var missing: [String] = []
        func visit(_ command: [String: Any], path: String) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                let names = (argument["names"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
                let name = names.first ?? (argument["valueName"] as? String ?? "?")
                if ["help", "version", "experimental-dump-help", "h"].contains(name) { continue }
                if (argument["abstract"] as? String ?? "").isEmpty { missing.append("\(path) \(name)") }
            }
            // ArgumentParser's own `help` command is not ours to document.
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["commandName"] as? String != "help" {
                visit(sub, path: path + " " + (sub["commandName"] as? String ?? "?"))
            }
        }
        visit(try #require(root["command"] as? [String: Any]), path: "segctl")
        #expect(missing.isEmpty, "without help: \(missing.joined(separator: ", "))")
    }
}
