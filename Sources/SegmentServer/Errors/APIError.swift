import GRPCCore
import GRPCProtobuf
import SegmentDomain

/// An error as a client sees it: a status code, a message and google.rpc details
/// (a stable reason, which field, what was wrong).
///
/// Every error leaving a service passes through ``APIError/init(mapping:)`` once
/// (in ``ErrorMappingInterceptor``), so nothing reaches a client as UNKNOWN and no
/// SQL or internal detail leaks.
public struct APIError: Error, Sendable, RPCErrorConvertible {
    /// The domain of `ErrorInfo` details.
    public static let domain = "segmentd.dev"

    public var code: RPCError.Code
    public var message: String
    /// A stable reason from `segmentd.v1.ErrorReason`.
    public var reason: String
    /// Extra facts for programs (`permission`, `line`, …).
    public var metadata: [String: String]
    /// Field violations for INVALID_ARGUMENT.
    public var fieldViolations: [(field: String, description: String)]
    /// For RESOURCE_EXHAUSTED: how long to wait (`RetryInfo`).
    public var retryDelay: Duration?

    public init(
        _ code: RPCError.Code, _ message: String, reason: String, metadata: [String: String] = [:],
        fieldViolations: [(field: String, description: String)] = []
    ) {
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = metadata
        self.fieldViolations = fieldViolations
    }

    var status: GoogleRPCStatus {
        var details: [ErrorDetails] = [.errorInfo(reason: reason, domain: Self.domain, metadata: metadata)]
        if let retryDelay { details.append(.retryInfo(delay: retryDelay)) }
        if code == .resourceExhausted, let limit = metadata["limit"] {
            details.append(.quotaFailure(violations: [ErrorDetails.QuotaFailure.Violation(subject: limit, description: message)]))
        }
        if !fieldViolations.isEmpty {
            details.append(
                .badRequest(
                    violations: fieldViolations.map {
                        ErrorDetails.BadRequest.FieldViolation(field: $0.field, description: $0.description)
                    }))
        }
        return GoogleRPCStatus(code: code, message: message, details: details)
    }

    public var rpcErrorCode: RPCError.Code { code }
    public var rpcErrorMessage: String { message }
    public var rpcErrorMetadata: Metadata { status.rpcErrorMetadata }
}

extension APIError {
    /// The call carried no usable API key. One message for every cause, so a
    /// prober learns nothing about which keys exist.
    static func unauthenticated(_ failure: AuthenticationFailure) -> APIError {
        switch failure {
        case .missing:
            return APIError(
                .unauthenticated, "no API key: send it as 'authorization: Bearer <key>' or 'x-api-key'",
                reason: "API_KEY_INVALID")
        case .tenantDisabled:
            return APIError(.unauthenticated, "the API key's tenant is disabled", reason: "TENANT_DISABLED")
        case .malformed, .unknown, .revoked, .expired:
            return APIError(
                .unauthenticated, "the API key is invalid, revoked or expired", reason: "API_KEY_INVALID")
        }
    }

    /// The caller's roles lack `permission`; the details name it.
    static func permissionDenied(_ permission: Permission) -> APIError {
        APIError(
            .permissionDenied, "the API key's roles lack the permission '\(permission.name)'",
            reason: "PERMISSION_MISSING", metadata: ["permission": permission.name])
    }

    /// The gRPC status code's name, as the audit log records it.
    var codeName: String { Self.name(of: code) }

    static func name(of code: RPCError.Code) -> String {
        switch code {
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        default: return "UNKNOWN"
        }
    }

    /// The server is starting or draining.
    static let notServing = APIError(.unavailable, "the server is not serving (starting or shutting down)", reason: "NOT_SERVING")

    /// Maps any error thrown below the gRPC layer to what the client should see.
    init(mapping error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as AuthenticationFailure:
            self = .unauthenticated(error)
        case let error as DomainError:
            self = APIError(domainError: error)
        case let error as BatchRejected:
            self = .rejected(error, collection: "records")
        case is CancellationError:
            self = APIError(.cancelled, "the call was cancelled", reason: "CANCELLED")
        default:
            self = APIError(.internalError, "internal error", reason: "INTERNAL")
        }
    }

    /// The one mapping of a domain error to a status: the code by kind, the reason and
    /// field as the error carries them (never read back out of its message).
    private init(domainError error: DomainError) {
        let code: RPCError.Code
        var message = error.message
        switch error.code {
        case .notFound: code = .notFound
        case .invalidArgument: code = .invalidArgument
        case .alreadyExists: code = .alreadyExists
        case .failedPrecondition: code = .failedPrecondition
        case .conflict: code = .aborted
        case .permissionDenied: code = .permissionDenied
        case .unavailable:
            code = .unavailable
            message = "the database is unavailable; retry"
        case .tooExpensive, .limitExceeded: code = .resourceExhausted
        case .outOfRange: code = .outOfRange
        default:
            self = APIError(.internalError, "internal error", reason: "INTERNAL")
            return
        }
        self = APIError(
            code, message, reason: error.reason.name, metadata: error.metadata,
            fieldViolations: error.violations.map { (field: $0.field, description: $0.problem) })
        self.retryDelay = error.retryDelay
    }
}
