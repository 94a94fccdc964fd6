import Foundation
import SegmentdClient
import Synchronization

/// A `segmentd` child process, for tests of the real binary: startup, signals,
/// the embedded database, several replicas on one database.
///
/// Spawned with posix_spawn and reaped with waitpid here: Foundation's
/// `Process` does not always notice a child's death when several run at once.
public final class SegmentdProcess: Sendable {
    public let pid: pid_t
    public let home: String
    public let logPath: String
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `segmentd` with `arguments` (plus `--home`, an ephemeral gRPC port and, unless given, metrics off).
    public init(home: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.home = home
        self.logPath = home + ".log"
        let executable = try TestEnvironment.binDirectory + "/segmentd"
        var all = ["--home", home, "--listen", "127.0.0.1:0"]
        if !arguments.contains("--metrics-listen") { all += ["--metrics-listen", "off"] }
        all += arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SEGMENTD_") }
        env.merge(environment) { $1 }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + all).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, &argv, &envp)
        guard result == 0 else { throw TestSetupError("cannot start segmentd: \(String(cString: strerror(result)))") }
        pid = child
    }

    /// The log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Whether the process still runs (reaping it once it has exited).
    public var isRunning: Bool {
        exitStatus.withLock { exitStatus in
            if exitStatus != nil { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // WIFEXITED / WEXITSTATUS, or 128 + the signal.
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return false
            }
            return true
        }
    }

    /// Waits until segctl.json shows the bound address and the server answers
    /// SERVING; returns client settings with the owner key.
    public func waitUntilServing(timeout: Duration = .seconds(120)) async throws -> ClientSettings {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else {
                throw TestSetupError("segmentd exited with \(exitStatus.withLock { $0 } ?? -1):\n\(log)")
            }
            if let file = try? ClientSettings.File.read(home + "/" + ClientSettings.File.fileName),
                !file.address.hasSuffix(":0"), log.contains("health=SERVING")
            {
                return ClientSettings(address: file.address, caPath: file.ca, apiKey: file.apiKey)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("segmentd did not become healthy in time:\n\(log)")
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to exit; returns its exit status (128 + signal when killed).
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else {
                send(SIGKILL)
                throw TestSetupError("segmentd did not exit in time:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return exitStatus.withLock { $0 } ?? -1
    }

    /// Kills the process if it still runs (cleanup).
    /// Stops the process: SIGTERM first, so an embedded PostgreSQL is shut
    /// down with it instead of being orphaned; SIGKILL after 30 s.
    public func stop() {
        guard isRunning else { return }
        send(SIGTERM)
        for _ in 0..<300 where isRunning { usleep(100_000) }
        if isRunning {
            send(SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// Runs a command (segctl, pg_ctl) and captures its output and status.
public enum CommandLineTool {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SEGMENTD_") }
        env.merge(environment) { $1 }
        process.environment = env
        let directory = try TestEnvironment.temporaryDirectory("sgdcmd")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outPath = directory + "/out"
        let errPath = directory + "/err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Runs the built `segctl`.
    public static func segctl(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try run(try TestEnvironment.binDirectory + "/segctl", arguments, environment: environment)
    }
}
