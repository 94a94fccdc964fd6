import Foundation

/// When each user of a tenant must be evaluated again because a window edge
/// passes: a binary min-heap with one entry per user, indexed by user so a new
/// deadline moves the user's entry instead of leaving a stale one behind (the
/// heap never holds more entries than users with a pending edge).
struct DeadlineQueue {
    private var heap: [(instant: Date, user: UInt32)] = []
    private var positions: [UInt32: Int] = [:]

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest deadline.
    var earliest: Date? { heap.first?.instant }

    /// The user's pending deadline, if any.
    func deadline(of user: UInt32) -> Date? {
        positions[user].map { heap[$0].instant }
    }

    /// Sets (or with nil, clears) the user's deadline.
    mutating func schedule(_ user: UInt32, at instant: Date?) {
        guard let instant else {
            remove(user)
            return
        }
        if let position = positions[user] {
            let earlier = instant < heap[position].instant
            heap[position].instant = instant
            if earlier { siftUp(position) } else { siftDown(position) }
        } else {
            heap.append((instant, user))
            positions[user] = heap.count - 1
            siftUp(heap.count - 1)
        }
    }

    /// Clears the user's deadline.
    mutating func remove(_ user: UInt32) {
        guard let position = positions.removeValue(forKey: user) else { return }
        let last = heap.removeLast()
        guard position < heap.count else { return }
        heap[position] = last
        positions[last.user] = position
        siftUp(position)
        siftDown(positions[last.user]!)
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(at now: Date) -> (instant: Date, user: UInt32)? {
        guard let first = heap.first, first.instant <= now else { return nil }
        remove(first.user)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].instant < heap[parent].instant else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].instant < heap[left].instant { smallest = left + 1 }
            guard heap[smallest].instant < heap[parent].instant else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        positions[heap[a].user] = a
        positions[heap[b].user] = b
    }
}
