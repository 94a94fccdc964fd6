import Foundation
import SegmentDomain

/// Runs a command to completion and captures its output, for the embedded
/// database's tools (initdb, pg_ctl).
///
/// Uses posix_spawn and waitpid directly: Foundation's `Process` can miss the
/// exit of a command that starts a daemon (pg_ctl start), leaving the caller
/// waiting forever. Output goes to a temporary file, not a pipe, so a daemon
/// that inherits it cannot hold the reader open either.
enum ProcessRunner {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let output: String
        var description: String { "\(command) exited with \(status): \(output)" }
    }

    /// Runs `arguments[0]` with the rest as arguments; throws with the output on a non-zero exit.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let (status, output) = try spawn(arguments)
        guard status == 0 else {
            throw Failure(command: arguments.joined(separator: " "), status: status, output: output)
        }
        return output
    }

    /// The exit status alone, for probes such as `pg_ctl status`; -1 when it could not start.
    static func status(_ arguments: [String]) -> Int32 {
        (try? spawn(arguments).status) ?? -1
    }

    private static func spawn(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "segmentd-cmd-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        guard spawned == 0 else {
            throw Failure(command: arguments.joined(separator: " "), status: -1, output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, output)
    }
}
