import Foundation
import Testing

@testable import SegmentdApp

@Suite("segmentd configuration: flag, then environment, then file, then default")
struct SegmentdConfigurationTests {
    static func file(_ json: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("segmentd-config-\(UUID().uuidString).json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("each key comes from the first source that sets it; an empty value counts as unset")
    func precedence() throws {
        let path = try Self.file(#"{"listen": "127.0.0.1:1111", "db_pool_size": 50, "log_level": "debug", "job_lease_seconds": 60}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try SegmentdConfiguration.resolve(
            flags: ["listen": "127.0.0.1:3333"],
            configFile: path,
            environment: [
                "SEGMENTD_LISTEN": "127.0.0.1:2222", "SEGMENTD_DB_POOL_SIZE": "40", "SEGMENTD_LOG_LEVEL": "",
                "DB_POOL_SIZE": "7",  // not ours: no prefix
            ])
        #expect(configuration.listen == .init(host: "127.0.0.1", port: 3333))  // flag
        #expect(configuration.dbPoolSize == 40)  // environment over file
        #expect(configuration.logLevel == .debug)  // empty variable falls through to the file
        #expect(configuration.jobLease == .seconds(60))  // a JSON number reads as its text
        #expect(configuration.evaluationTimeout == .seconds(30))  // default
        #expect(configuration.metricsListen == .init(host: "127.0.0.1", port: 9464))
    }

    @Test("every key is listed once (the list decides which file keys are known)")
    func keysListedOnce() {
        let names = ConfigurationKey.all.map(\.name)
        #expect(Set(names).count == names.count, "\(names.filter { name in names.filter { $0 == name }.count > 1 })")
        #expect(names.contains("realtime_lease_seconds") && names.contains("audit_checkpoint_key") && names.contains("engine_memory_mb"))
    }

    @Test("SEGMENTD_CONFIG names the file when --config does not")
    func configFromEnvironment() throws {
        let path = try Self.file(#"{"auth_cache_seconds": "5"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try SegmentdConfiguration.resolve(flags: [:], configFile: nil, environment: ["SEGMENTD_CONFIG": path])
        #expect(configuration.authCacheTTL == .seconds(5))
    }

    @Test("bad values and unknown file keys stop startup with a message naming the key")
    func invalid() throws {
        let path = try Self.file(#"{"lisen": "127.0.0.1:1"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        func message(_ flags: [String: String], file: String? = nil, environment: [String: String] = [:]) -> String {
            do {
                _ = try SegmentdConfiguration.resolve(flags: flags, configFile: file, environment: environment)
                return "accepted"
            } catch let error as SegmentdConfiguration.Invalid {
                return error.description
            } catch {
                return "\(error)"
            }
        }
        #expect(message([:], file: path) == "invalid --config / SEGMENTD_CONFIG: unknown key 'lisen' in \(path)")
        #expect(message(["listen": "localhost"]) == "invalid --listen / SEGMENTD_LISTEN: expected IP:port, got 'localhost'")
        #expect(
            message([:], environment: ["SEGMENTD_DB_POOL_SIZE": "0"])
                == "invalid --db-pool-size / SEGMENTD_DB_POOL_SIZE: expected a whole number in 1...500, got '0'")
        #expect(message(["log_level": "loud"]) == "invalid --log-level / SEGMENTD_LOG_LEVEL: unknown level 'loud'")
    }

    @Test("audit checkpoints: every 1000 entries into <home>/audit by default; 0 turns them off; paths and ranges are checked")
    func auditCheckpoints() throws {
        let defaults = try SegmentdConfiguration.resolve(flags: ["home": "/srv/segmentd"], configFile: nil, environment: [:])
        #expect(defaults.auditCheckpointEvery == 1000)
        #expect(defaults.auditCheckpointFile == "/srv/segmentd/audit/checkpoints.jsonl")
        #expect(defaults.auditCheckpointKey == "/srv/segmentd/audit/checkpoint-signing.key")
        let set = try SegmentdConfiguration.resolve(
            flags: ["audit_checkpoint_every": "0"], configFile: nil,
            environment: [
                "SEGMENTD_AUDIT_CHECKPOINT_FILE": "/var/log/segmentd/checkpoints.jsonl", "SEGMENTD_AUDIT_CHECKPOINT_KEY": "/etc/segmentd/ckpt.key",
            ])
        #expect(set.auditCheckpointEvery == 0)
        #expect(set.auditCheckpointFile == "/var/log/segmentd/checkpoints.jsonl")
        #expect(set.auditCheckpointKey == "/etc/segmentd/ckpt.key")
        #expect(throws: SegmentdConfiguration.Invalid.self) {
            try SegmentdConfiguration.resolve(flags: ["audit_checkpoint_every": "-1"], configFile: nil, environment: [:])
        }
        for key in [ConfigurationKey.auditCheckpointEvery, .auditCheckpointFile, .auditCheckpointKey] {
            #expect(ConfigurationKey.all.contains { $0.name == key.name })
        }
    }
}
