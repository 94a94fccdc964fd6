import Foundation
import Synchronization

/// Progress for long commands: a redrawn line with rate and ETA on a terminal,
/// plain lines every few seconds otherwise. Updated from concurrent uploads, so
/// the time of the last line sits behind a mutex.
final class Progress: Sendable {
    let total: Int
    let unit: String
    let start = Date()
    private let lastPrint = Mutex(Date.distantPast)
    let terminal = isatty(STDERR_FILENO) == 1

    init(total: Int, unit: String) {
        self.total = total
        self.unit = unit
    }

    func update(_ done: Int, force: Bool = false) {
        let now = Date()
        let interval = terminal ? 0.1 : 5
        let due = lastPrint.withLock { last in
            guard force || now.timeIntervalSince(last) >= interval else { return false }
            last = now
            return true
        }
        guard due else { return }
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        let text = String(
            format: "%@/%@ %@ (%.0f%%)  %@/s  ETA %@", grouped(done), grouped(total), unit, percent, grouped(Int(rate)),
            Self.clock(remaining))
        if terminal {
            let width = 30
            let filled = total > 0 ? Int(Double(width) * Double(done) / Double(total)) : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func finish(_ done: Int) {
        update(done, force: true)
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    func grouped(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: value)) ?? String(value)
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return String(format: "%d:%02d", total / 60, total % 60)
    }
}
