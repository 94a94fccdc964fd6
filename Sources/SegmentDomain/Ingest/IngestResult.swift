/// What a batch did.
public struct IngestResult: Sendable, Equatable {
    public var accepted: Int
    public var duplicates: Int
    public var newUsers: Int

    public init(accepted: Int = 0, duplicates: Int = 0, newUsers: Int = 0) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.newUsers = newUsers
    }
}
