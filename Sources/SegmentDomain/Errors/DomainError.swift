/// An error every layer below gRPC throws: a stable code, a message safe to show
/// a client, and — as data, never parsed back out of the message — the request
/// field it is about and a stable reason.
///
/// The gRPC layer maps it once to a status code with `ErrorInfo` (the reason)
/// and `BadRequest` (the field) details. `message` never carries SQL or driver
/// internals; the underlying error, if any, is kept in `cause` for logs.
public struct DomainError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum so codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case notFound, alreadyExists, invalidArgument, failedPrecondition
            case unavailable, misconfigured, conflict, internalError, permissionDenied, tooExpensive, limitExceeded, outOfRange
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
        /// A size or count limit was exceeded.
        public static let limitExceeded = Code(.limitExceeded)
        /// A position or time before what is kept (the change log's retention).
        public static let outOfRange = Code(.outOfRange)
        /// A bug or an unexpected database error.
        public static let internalError = Code(.internalError)

        public var description: String { value.rawValue }
    }

    /// A stable, machine-readable reason: the names of `segmentd.v1.ErrorReason`.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        /// The name as clients see it in `ErrorInfo.reason`.
        public let name: String
        private init(_ name: String) { self.name = name }

        public static let invalidField = Reason("INVALID_FIELD")
        public static let resourceNotFound = Reason("RESOURCE_NOT_FOUND")
        public static let resourceExists = Reason("RESOURCE_EXISTS")
        public static let etagMismatch = Reason("ETAG_MISMATCH")
        public static let segmentPaused = Reason("SEGMENT_PAUSED")
        public static let limitExceeded = Reason("LIMIT_EXCEEDED")
        public static let ruleSyntax = Reason("RULE_SYNTAX")
        public static let ruleInvalid = Reason("RULE_INVALID")
        public static let typeMismatch = Reason("TYPE_MISMATCH")
        public static let insufficientData = Reason("INSUFFICIENT_DATA")
        public static let operationFinished = Reason("OPERATION_FINISHED")
        public static let permissionMissing = Reason("PERMISSION_MISSING")
        public static let notServing = Reason("NOT_SERVING")
        public static let evaluationTimeout = Reason("EVALUATION_TIMEOUT")
        public static let changesNotKept = Reason("CHANGES_NOT_KEPT")
        public static let failedPrecondition = Reason("FAILED_PRECONDITION")
        public static let `internal` = Reason("INTERNAL")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// A message safe for clients.
    public var message: String
    /// The request field the error is about, as a path (`segment.connector.pull.url`), when there is one.
    public var field: String?
    /// Every field that is wrong, when there are several (a rule with three errors); the first is `field`.
    public var violations: [FieldViolation]
    /// The stable reason; derived from `code` unless set.
    public var reason: Reason
    /// Extra facts for programs (`segment`, `line`, `column`, …).
    public var metadata: [String: String]
    /// The underlying error, for logs only.
    public var cause: (any Error)?
    /// How long to wait before retrying (a rate limit), sent as `RetryInfo`.
    public var retryDelay: Duration?

    public init(
        _ code: Code, _ message: String, field: String? = nil, reason: Reason? = nil, metadata: [String: String] = [:],
        violations: [FieldViolation] = [], cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.field = field ?? violations.first?.field
        self.violations = violations.isEmpty ? field.map { [FieldViolation(field: $0, problem: message)] } ?? [] : violations
        self.reason = reason ?? Self.defaultReason(code, hasField: field != nil)
        self.metadata = metadata
        self.cause = cause
    }

    /// A field of the request is invalid: the message reads "`field`: `problem`".
    public static func invalid(_ field: String, _ problem: String, reason: Reason = .invalidField) -> DomainError {
        DomainError(.invalidArgument, "\(field): \(problem)", field: field, reason: reason)
    }

    /// Not found — also the answer for another tenant's resources, so the answer
    /// never reveals whether they exist.
    public static func notFound(_ resource: String) -> DomainError {
        DomainError(.notFound, "\(resource) not found", metadata: ["resource": resource])
    }

    /// A rate or quota named `limit` (`calls_per_key`) was exceeded; retry after `retryAfter`, if given.
    public static func rateLimited(_ limit: String, _ message: String, retryAfter: Duration?) -> DomainError {
        var error = DomainError(.limitExceeded, message, reason: .limitExceeded, metadata: ["limit": limit])
        error.retryDelay = retryAfter
        return error
    }

    /// The segment is paused or archived, so it refuses `action` until resumed.
    public static func segmentInactive(_ segmentName: String, state: String, action: String) -> DomainError {
        DomainError(
            .failedPrecondition, "\(segmentName) is \(state): resume it to \(action) (its last membership is kept)",
            reason: .segmentPaused, metadata: ["segment": segmentName])
    }

    /// One wrong field of a request.
    public struct FieldViolation: Sendable, Equatable {
        /// The field's path in the request (`rule.all[1].behavior.where[0]`).
        public var field: String
        /// What is wrong with it.
        public var problem: String

        public init(field: String, problem: String) {
            self.field = field
            self.problem = problem
        }
    }

    public var description: String { field.map { "\(code) [\($0)]: \(message)" } ?? "\(code): \(message)" }

    private static func defaultReason(_ code: Code, hasField: Bool) -> Reason {
        switch code {
        case .notFound: .resourceNotFound
        case .alreadyExists: .resourceExists
        case .invalidArgument: .invalidField
        case .conflict: .etagMismatch
        case .permissionDenied: .permissionMissing
        case .unavailable: .notServing
        case .tooExpensive: .evaluationTimeout
        case .limitExceeded: .limitExceeded
        case .failedPrecondition: .failedPrecondition
        case .outOfRange: .changesNotKept
        default: .internal
        }
    }
}
