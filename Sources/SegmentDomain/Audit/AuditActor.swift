import Foundation

/// Who did something, as the audit log records it.
public struct AuditActor: Sendable, Equatable {
    /// `tenants/{tenant}/apiKeys/{key}`, `anonymous`, `system` or `jobs/{id}`.
    public var name: String
    /// The key's display prefix, or empty.
    public var display: String
    /// The request id.
    public var requestID: String
    /// The caller's address.
    public var peer: String
    /// The caller's user agent.
    public var userAgent: String

    public init(name: String, display: String = "", requestID: String = "", peer: String = "", userAgent: String = "") {
        self.name = name
        self.display = display
        self.requestID = requestID
        self.peer = peer
        self.userAgent = userAgent
    }

    /// Changes made by segmentd itself (bootstrap, jobs).
    public static let system = AuditActor(name: "system")

    /// Whether `text` has the form of an actor's name (a resource name, `system` or
    /// `anonymous`) rather than of a key's display name.
    public static func isActorName(_ text: String) -> Bool {
        text.contains("/") || text == "system" || text == "anonymous"
    }
}
