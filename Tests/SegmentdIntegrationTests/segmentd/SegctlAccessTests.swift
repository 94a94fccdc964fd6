import Foundation
import SegmentDomain
import SegmentStore
import SegmentdClient
import SegmentdTestSupport
import Testing

@Suite("segctl tenants, keys, roles and audit against the real binary", .serialized, .timeLimit(.minutes(10)))
struct SegctlAccessTests {
    static func json(_ result: CommandLineTool.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    @Test("an operator's session: tenants, keys, roles, audit; plain permission errors; no secret in the logs or a database dump")
    func operatorSession() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdctl")
        defer { try? FileManager.default.removeItem(atPath: home) }
        // Audit checkpoints every 5 entries, with the default key and file under <home>/audit.
        let segmentd = try SegmentdProcess(home: home, arguments: ["--log-level", "trace", "--audit-checkpoint-every", "5"])
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        let env = ["SEGMENTD_HOME": home]
        func segctl(_ arguments: [String], key: String? = nil) throws -> CommandLineTool.Result {
            var environment = env
            if let key { environment["SEGMENTD_API_KEY"] = key }
            return try CommandLineTool.segctl(arguments, environment: environment)
        }
        var secrets: [String] = []
        let file = try #require(try ClientSettings.File.read(home + "/segctl.json"))
        secrets += [file.apiKey, file.platformApiKey].compactMap { $0 }

        // Tenants, with the platform key that segctl.json holds.
        let created = try segctl(["tenants", "create", "shop-eu", "--display-name", "Shop EU", "--time-zone", "Europe/Istanbul", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let shopOwner = try #require(((try Self.json(created)) as? [String: Any])?["owner_key"] as? [String: Any])
        let shopSecret = try #require(shopOwner["secret"] as? String)
        secrets.append(shopSecret)
        let tenants = try segctl(["tenants", "list"])
        #expect(tenants.stdout.contains("shop-eu"))
        #expect(tenants.stdout.contains("Europe/Istanbul"))
        #expect(try segctl(["tenants", "disable", "shop-eu"]).stdout.contains("disabled"))
        #expect(try segctl(["tenants", "list"]).stdout.contains("shop-eu") == false)
        #expect(try segctl(["tenants", "list", "--all"]).stdout.contains("shop-eu"))
        #expect(try segctl(["tenants", "enable", "shop-eu"]).status == 0)

        // Keys and roles in the default tenant, with the owner key.
        let role = try segctl(["roles", "create", "exporter", "--permission", "segments.read", "--permission", "segments.export"])
        #expect(role.status == 0, "\(role.stderr)")
        #expect(try segctl(["roles", "list"]).stdout.contains("exporter"))
        let key = try segctl(["keys", "create", "reporting", "--role", "viewer", "--expires", "30d", "--json"])
        #expect(key.status == 0, "\(key.stderr)")
        let keyObject = try #require((try Self.json(key)) as? [String: Any])
        let viewerSecret = try #require(keyObject["secret"] as? String)
        secrets.append(viewerSecret)
        let keyName = try #require((keyObject["api_key"] as? [String: Any])?["name"] as? String)
        let keyID = String(keyName.split(separator: "/").last!)
        let listed = try segctl(["keys", "list"])
        #expect(listed.stdout.contains("reporting"))
        #expect(!listed.stdout.contains(viewerSecret))

        // A viewer is told plainly what it lacks.
        let denied = try segctl(["keys", "list"], key: viewerSecret)
        #expect(denied.status == 1)
        #expect(denied.stderr.contains("permission denied"))
        #expect(denied.stderr.contains("keys.manage"))

        let rolled = try segctl(["keys", "roll", keyID, "--grace", "0", "--json"])
        #expect(rolled.status == 0, "\(rolled.stderr)")
        if let secret = ((try? Self.json(rolled)) as? [String: Any])?["secret"] as? String { secrets.append(secret) }
        let newKeyID = try #require(
            ((((try? Self.json(rolled)) as? [String: Any])?["api_key"] as? [String: Any])?["name"] as? String)?
                .split(separator: "/").last.map(String.init))
        #expect(try segctl(["keys", "revoke", newKeyID]).status == 0)
        #expect(try segctl(["roles", "delete", "exporter"]).status == 0)

        // The audit log shows what happened and verifies.
        let audit = try segctl(["audit", "list", "--limit", "100"])
        #expect(audit.status == 0, "\(audit.stderr)")
        for action in ["CreateRole", "CreateApiKey", "RollApiKey", "RevokeApiKey", "DeleteRole", "ListApiKeys"] {
            #expect(audit.stdout.contains("AccessService/\(action)"), "\(action) missing from the audit list")
        }
        #expect(audit.stdout.contains("PERMISSION_DENIED"))
        let verify = try segctl(["audit", "verify"])
        #expect(verify.status == 0)
        #expect(verify.stdout.hasPrefix("OK:"))

        // A dump of the database (taken while the embedded PostgreSQL runs) holds no secret…
        let bin = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")
                .compactMap(Int.init).max().map { "/usr/lib/postgresql/\($0)/bin" })
        let dump = try CommandLineTool.run(
            bin + "/pg_dump", ["-h", home + "/postgres/run", "-U", "postgres", "--data-only", "segmentd"])
        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("reporting"), "the dump holds the key rows")
        for secret in secrets { #expect(!dump.stdout.contains(secret), "a key appears in the database dump") }

        // …and neither does the server's log, at trace level.
        segmentd.send(SIGTERM)
        #expect(try await segmentd.waitForExit() == 0)
        let log = segmentd.log
        #expect(log.contains("GetCallerIdentity") || log.contains("trace"))
        for secret in secrets { #expect(!log.contains(secret), "a key appears in the server log") }

        // segmentd signed the chains as they grew (and once more on the way out), with a key of its own.
        let keyPath = home + "/audit/checkpoint-signing.key"
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let checkpointsPath = home + "/audit/checkpoints.jsonl"
        let publicKey = try AuditCheckpoint.publicKey(base64: try String(contentsOfFile: home + "/audit/checkpoint-signing.pub", encoding: .utf8))
        let lines = try String(contentsOfFile: checkpointsPath, encoding: .utf8).split(separator: "\n").map {
            try AuditCheckpoint(jsonLine: String($0))
        }
        #expect(lines.contains { $0.chain.rawValue == "default" })
        #expect(lines.allSatisfy { $0.hasValidSignature && $0.publicKey == publicKey.rawRepresentation && $0.sequence % 5 == 0 })
        #expect(log.contains("audit checkpoint"))

        // After a restart, the operator checks the live chain against them.
        let restarted = try SegmentdProcess(home: home)
        defer { restarted.stop() }
        _ = try await restarted.waitUntilServing()
        let checked = try segctl(
            ["audit", "verify", "--checkpoints", checkpointsPath, "--public-key", home + "/audit/checkpoint-signing.pub"])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        #expect(checked.stdout.contains("CHECKPOINTS OK"), "\(checked.stdout)")
    }

    @Test("an operator rolls the platform key with segctl keys --platform; the old key is refused, the last platform key cannot be revoked")
    func platformKeys() async throws {
        let home = try TestEnvironment.temporaryDirectory("sgdplat")
        defer { try? FileManager.default.removeItem(atPath: home) }
        // No auth cache: a revoked key is refused on its next call.
        let segmentd = try SegmentdProcess(home: home, arguments: ["--auth-cache-seconds", "0"])
        defer { segmentd.stop() }
        _ = try await segmentd.waitUntilServing()
        func segctl(_ arguments: [String], key: String? = nil) throws -> CommandLineTool.Result {
            var environment = ["SEGMENTD_HOME": home]
            if let key { environment["SEGMENTD_API_KEY"] = key }
            return try CommandLineTool.segctl(arguments, environment: environment)
        }
        func keys(_ result: CommandLineTool.Result) throws -> [[String: Any]] {
            try #require((try Self.json(result)) as? [[String: Any]], "\(result.stdout) \(result.stderr)")
        }
        func id(_ key: [String: Any]?) throws -> String {
            try #require((key?["name"] as? String)?.split(separator: "/").last.map(String.init))
        }

        // --platform takes the platform key from segctl.json: the first start's key is the only one.
        let listed = try segctl(["keys", "list", "--platform", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let bootstrap = try keys(listed)
        #expect(bootstrap.map { $0["display_name"] as? String } == ["platform-admin"])
        #expect(bootstrap.first?["roles"] as? [String] == ["platform_admin"])
        let oldID = try id(bootstrap.first)

        let created = try segctl(["keys", "create", "ops-2", "--role", "platform_admin", "--platform", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let createdObject = try #require((try Self.json(created)) as? [String: Any])
        let newSecret = try #require(createdObject["secret"] as? String)
        let newID = try id(createdObject["api_key"] as? [String: Any])
        #expect(try keys(try segctl(["keys", "list", "--platform", "--json"])).count == 2)

        // The new key revokes the old one; segctl.json's platform key is refused from then on.
        let revoked = try segctl(["keys", "revoke", oldID], key: newSecret)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let refused = try segctl(["tenants", "list"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("rejected"), "\(refused.stderr)")
        #expect(try segctl(["tenants", "list"], key: newSecret).status == 0)

        // The last platform key cannot go, and segctl says why.
        let last = try segctl(["keys", "revoke", newID], key: newSecret)
        #expect(last.status == 1)
        #expect(last.stderr.contains("last platform_admin key of tenants/platform"), "\(last.stderr)")

        // keys roll: a new secret once, the old one ends (grace 0), and a reminder that the rolled key was the caller's.
        let rolled = try segctl(["keys", "roll", newID, "--grace", "0", "--json"], key: newSecret)
        #expect(rolled.status == 0, "\(rolled.stderr)")
        let rolledSecret = try #require(((try Self.json(rolled)) as? [String: Any])?["secret"] as? String)
        #expect(rolled.stderr.contains("you rolled the key this command used"), "\(rolled.stderr)")
        #expect(try segctl(["whoami"], key: newSecret).status == 1)
        let whoami = try segctl(["whoami"], key: rolledSecret)
        #expect(whoami.status == 0 && whoami.stdout.contains("tenants/platform"), "\(whoami.stdout) \(whoami.stderr)")

        // The tenant's owner key (segctl.json's api_key) sees its own tenant's keys only.
        let ownerKeys = try keys(try segctl(["keys", "list", "--all", "--json"]))
        #expect(!ownerKeys.isEmpty)
        #expect(ownerKeys.allSatisfy { ($0["name"] as? String)?.hasPrefix("tenants/default/") == true })
    }

    @Test("segmentd refuses to serve on a superuser role, naming the problem")
    func refusesSuperuser() async throws {
        let database = try await TestDatabase.create()
        let home = try TestEnvironment.temporaryDirectory("sgdsu")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let segmentd = try SegmentdProcess(
            home: home,
            arguments: ["--database-url", TestDatabase.url(database.superuser), "--migration-database-url", TestDatabase.url(database.owner)])
        defer { segmentd.stop() }
        let status = try await segmentd.waitForExit()
        #expect(status != 0)
        #expect(segmentd.log.contains("is a superuser"))
    }
}
