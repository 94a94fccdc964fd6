import Foundation
import SegmentdClient

/// A `segmentd` child process, for tests of the real binary: startup, signals,
/// the embedded database, several replicas on one database.
public final class SegmentdProcess: @unchecked Sendable {
    public let process: Process
    public let home: String
    public let logPath: String

    /// Starts `segmentd` with `arguments` (plus `--home`, an ephemeral gRPC port and metrics off).
    public init(home: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.home = home
        self.logPath = home + ".log"
        process = Process()
        process.executableURL = URL(fileURLWithPath: try TestEnvironment.binDirectory + "/segmentd")
        process.arguments = ["--home", home, "--listen", "127.0.0.1:0", "--metrics-listen", "off"] + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SEGMENTD_") }
        env.merge(environment) { $1 }
        process.environment = env
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// The log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until segctl.json shows the bound address and the server answers
    /// SERVING; returns client settings with the owner key.
    public func waitUntilServing(timeout: Duration = .seconds(120)) async throws -> ClientSettings {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestSetupError("segmentd exited with \(process.terminationStatus):\n\(log)")
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
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status.
    /// Foundation does not always notice a child's death (seen with SIGKILL), so
    /// this also reaps it directly with `waitpid`.
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        let pid = process.processIdentifier
        while process.isRunning {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                // WIFEXITED / WEXITSTATUS, or 128 + the signal.
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw TestSetupError("segmentd did not exit in time:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Kills the process if it still runs (cleanup).
    public func stop() {
        if process.isRunning { send(SIGKILL) }
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
        let outPath = directory + "/out", errPath = directory + "/err"
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
