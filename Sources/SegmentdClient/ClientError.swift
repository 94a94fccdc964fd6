import GRPCCore

/// A client-side failure, phrased for people: one line that says what is wrong
/// and what to do.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// Kinds of client failure.
    public enum Kind: Sendable, Equatable {
        case invalidSettings
        case serverNotRunning
        case certificateNotTrusted
        case keyRejected
        case permissionDenied
        case notFound
        case invalidArgument
        case unimplemented
        case server
    }

    public let kind: Kind
    public let message: String
    /// The gRPC status code, when the server answered.
    public let code: RPCError.Code?

    public init(_ kind: Kind, _ message: String, code: RPCError.Code? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// Explains an RPC failure against `address`.
    public static func explaining(_ error: any Error, address: String) -> ClientError {
        if let error = error as? ClientError { return error }
        guard let rpc = error as? RPCError else {
            return ClientError(.server, "\(error)")
        }
        let detail = "\(rpc.message) \(rpc.cause.map { String(describing: $0) } ?? "")".lowercased()
        switch rpc.code {
        case .unavailable where detail.contains("certificate") || detail.contains("handshake") || detail.contains("ssl") || detail.contains("tls"):
            return ClientError(
                .certificateNotTrusted,
                "the server's certificate is not trusted: pass the server's CA with --ca or SEGMENTD_CA (the embedded server's is <data dir>/tls/ca.pem)",
                code: rpc.code)
        case .unavailable:
            return ClientError(
                .serverNotRunning,
                "cannot reach segmentd at \(address): is the server running? (start it with ops/run-server, or set --addr / SEGMENTD_ADDR)",
                code: rpc.code)
        case .unauthenticated:
            return ClientError(
                .keyRejected,
                "the API key was rejected (\(rpc.message)); pass a valid key with --api-key or SEGMENTD_API_KEY", code: rpc.code)
        case .permissionDenied:
            return ClientError(.permissionDenied, "permission denied: \(rpc.message)", code: rpc.code)
        case .notFound:
            return ClientError(.notFound, rpc.message, code: rpc.code)
        case .invalidArgument:
            return ClientError(.invalidArgument, "invalid request: \(rpc.message)", code: rpc.code)
        case .failedPrecondition, .aborted, .alreadyExists, .resourceExhausted:
            // The server's message says what to do.
            return ClientError(.server, rpc.message, code: rpc.code)
        case .unimplemented:
            return ClientError(.unimplemented, "not available on this server: \(rpc.message)", code: rpc.code)
        default:
            return ClientError(.server, "\(rpc.code): \(rpc.message)", code: rpc.code)
        }
    }
}
