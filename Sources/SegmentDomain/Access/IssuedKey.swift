/// A key just created or rolled: its record, and its secret — returned this
/// once, never stored or logged (the store keeps only its hash).
public struct IssuedKey: Sendable {
    public let record: APIKeyRecord
    public let plaintext: String

    public init(record: APIKeyRecord, plaintext: String) {
        self.record = record
        self.plaintext = plaintext
    }
}
