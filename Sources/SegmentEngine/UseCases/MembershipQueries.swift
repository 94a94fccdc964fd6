import Foundation
import SegmentDomain
import SegmentStore

/// Who is in a segment, for campaigns (targeting), journeys (audience) and analytics (filters).
public struct MembershipQueries: Sendable {
    let store: MembershipStore

    /// Users × segments at most in one batch check.
    public static let maxBatchPairs = 100_000

    public init(store: MembershipStore) {
        self.store = store
    }

    /// Whether each user is in each segment (and since when); at `time` in the past, from the change log.
    public func check(tenant: TenantID, userIDs: [String], segmentIDs: [String], at time: Date? = nil) async throws -> [String: [SegmentMembership]] {
        guard !userIDs.isEmpty else { throw DomainError.invalid(userIDs.count == 1 ? "user_id" : "user_ids", "name at least one user") }
        guard userIDs.count * segmentIDs.count <= Self.maxBatchPairs else {
            throw DomainError(
                .limitExceeded, "users × segments is \(userIDs.count * segmentIDs.count); the limit is \(Self.maxBatchPairs) per call",
                violations: [.init(field: "user_ids", problem: "split the batch")])
        }
        if let time { return try await store.check(tenant: tenant, userIDs: userIDs, segmentIDs: segmentIDs, at: time) }
        return try await store.check(tenant: tenant, userIDs: userIDs, segmentIDs: segmentIDs)
    }

    /// Every segment the user is in.
    public func segments(tenant: TenantID, userID: String) async throws -> [SegmentMembership] {
        guard !userID.isEmpty else { throw DomainError.invalid("user_id", "set the user") }
        return try await store.segments(tenant: tenant, userID: userID)
    }

    /// Streams the members in chunks of `chunkSize` (0 means 10,000) as of one moment
    /// (a refresh committing meanwhile is not seen): `send` gets each chunk, the total
    /// and the snapshot's time. Each page is read in a short transaction of its own and
    /// sent after it ends, so a client that reads slowly — or stops — holds no database
    /// connection. Memory stays at two chunks. With `time`, the members as they were then
    /// (from the change log, within its retention).
    public func streamMembers(
        tenant: TenantID, segmentID: String, chunkSize: Int, at time: Date? = nil, _ send: @Sendable ([String], Int64, Date) async throws -> Void
    ) async throws {
        guard (0...100_000).contains(chunkSize) else { throw DomainError.invalid("chunk_size", "0-100,000 (0 means 10,000)") }
        let size = chunkSize == 0 ? 10_000 : chunkSize
        let snapshot =
            if let time { try await store.memberSnapshot(tenant: tenant, segmentID: segmentID, at: time) } else {
                try await store.memberSnapshot(tenant: tenant, segmentID: segmentID)
            }
        var cursor: MemberPage.Cursor? = .start
        var pending: [String] = []
        var sent = false
        while let after = cursor {
            let page = try await store.members(of: snapshot, tenant: tenant, after: after, limit: size)
            pending += page.ids
            cursor = page.next
            // Pages can come short (members that joined since are skipped); chunks are full but the last.
            while pending.count >= size || (cursor == nil && !pending.isEmpty) {
                let chunk = Array(pending.prefix(size))
                pending.removeFirst(chunk.count)
                try await send(chunk, snapshot.total, snapshot.time)
                sent = true
            }
        }
        if !sent { try await send([], snapshot.total, snapshot.time) }
    }
}
