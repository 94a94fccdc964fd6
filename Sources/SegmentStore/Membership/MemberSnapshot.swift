import Foundation

/// A segment's membership as one write left it, which a member stream pages
/// through: later writes are undone page by page from the changes they kept
/// (see `MembershipStore.members(of:tenant:after:limit:)`).
public struct MemberSnapshot: Sendable {
    public let segmentID: String
    /// The membership write it shows (`segments.member_version`).
    let version: Int64
    /// How many members it has.
    public let total: Int64
    /// When it was taken (the database's clock).
    public let time: Date
}

/// One page of a ``MemberSnapshot``: external user ids in user-index order.
public struct MemberPage: Sendable {
    /// Where a page starts: after a user index.
    public struct Cursor: Sendable, Equatable {
        let afterIndex: Int64
        /// Before the first member.
        public static let start = Cursor(afterIndex: -1)
    }

    public let ids: [String]
    /// Where the next page starts; nil after the last.
    public let next: Cursor?
}
