import Crypto
import Foundation
import Synchronization

/// Buffered writes of an export file with a running SHA-256 and counts. The
/// store hands it chunks from a `@Sendable` callback, one at a time; the state
/// sits behind a mutex so that is checked, not assumed.
final class ExportWriter: Sendable {
    private struct State {
        var buffer = Data()
        var hasher = SHA256()
        var bytes: Int64 = 0
        var rows: Int64 = 0
        var digest = ""
    }

    private let handle: FileHandle
    private let state = Mutex(State())

    init(handle: FileHandle) {
        self.handle = handle
        state.withLock { $0.buffer.reserveCapacity(1 << 20) }
    }

    /// Bytes written.
    var bytes: Int64 { state.withLock { $0.bytes } }
    /// Member lines written (not the header).
    var rows: Int64 { state.withLock { $0.rows } }
    /// The file's SHA-256, once finished.
    var digest: String { state.withLock { $0.digest } }

    /// Appends `text`, which holds `rows` member lines (0 for the header).
    func write(_ text: String, rows: Int64) throws {
        try state.withLock { state in
            let before = state.buffer.count
            state.buffer.append(contentsOf: text.utf8)
            state.bytes += Int64(state.buffer.count - before)
            state.rows += rows
            if state.buffer.count >= 1 << 20 { try flush(&state) }
        }
    }

    private func flush(_ state: inout State) throws {
        state.hasher.update(data: state.buffer)
        try handle.write(contentsOf: state.buffer)
        state.buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try state.withLock { state in
            try flush(&state)
            state.digest = state.hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}
