/// An error from the storage layer, with a stable code the server maps to a gRPC status.
///
/// `message` is safe to show a client: it never carries SQL or driver internals.
/// The underlying error, if any, is kept in `cause` for logs.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case notFound, alreadyExists, invalidArgument, failedPrecondition
            case unavailable, misconfigured, conflict, internalError, permissionDenied, tooExpensive
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The resource does not exist (or belongs to another tenant).
        public static let notFound = Code(.notFound)
        /// A resource with that id exists already.
        public static let alreadyExists = Code(.alreadyExists)
        /// The input is invalid.
        public static let invalidArgument = Code(.invalidArgument)
        /// The system is not in a state that allows the operation.
        public static let failedPrecondition = Code(.failedPrecondition)
        /// The database cannot be reached.
        public static let unavailable = Code(.unavailable)
        /// The database is set up in a way segmentd refuses to run on.
        public static let misconfigured = Code(.misconfigured)
        /// A concurrent change won (stale etag, serialization failure).
        public static let conflict = Code(.conflict)
        /// The caller may not do this (beyond the RPC's own permission).
        public static let permissionDenied = Code(.permissionDenied)
        /// The work exceeded its time budget (a rule too expensive to evaluate).
        public static let tooExpensive = Code(.tooExpensive)
        /// A bug or an unexpected database error.
        public static let internalError = Code(.internalError)

        public var description: String { value.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// A message safe for clients.
    public var message: String
    /// The underlying error, for logs only.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(code): \(message)" }
}
