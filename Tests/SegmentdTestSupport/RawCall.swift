import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SegmentdClient

/// Calls any unary method by its descriptor with an empty request, for tests
/// that sweep the whole contract (access matrix, cross-tenant probes).
public enum RawCall {
    /// The outcome: nil code on success.
    public struct Outcome: Sendable, CustomStringConvertible {
        public let code: RPCError.Code?
        public let message: String
        /// ErrorInfo reason and metadata, when the server sent details.
        public let reason: String?
        public let metadata: [String: String]
        /// The `RetryInfo` delay, when the server sent one.
        public var retryDelay: Duration? = nil
        /// The `QuotaFailure` subjects, when the server sent them.
        public var quotaSubjects: [String] = []
        public var description: String { "\(code.map { "\($0)" } ?? "OK"): \(message)" }
    }

    /// Calls `method` with `message` (serialized protobuf; empty by default).
    public static func unary(
        _ connection: SegmentdConnection, _ method: MethodDescriptor, message: [UInt8] = [], apiKey: String?
    ) async throws -> Outcome {
        var metadata = Metadata()
        if let apiKey { metadata.addString("Bearer \(apiKey)", forKey: "authorization") }
        do {
            try await connection.client.unary(
                request: ClientRequest(message: message, metadata: metadata), descriptor: method,
                serializer: Bytes(), deserializer: Bytes(), options: .defaults
            ) { response in _ = try response.message }
            return Outcome(code: nil, message: "", reason: nil, metadata: [:])
        } catch let error as RPCError {
            let status = try? error.unpackGoogleRPCStatus()
            let info = status?.details.compactMap(\.errorInfo).first
            return Outcome(
                code: error.code, message: error.message, reason: info?.reason, metadata: info?.metadata ?? [:],
                retryDelay: status?.details.compactMap(\.retryInfo).first?.delay,
                quotaSubjects: status?.details.compactMap(\.quotaFailure).flatMap { $0.violations.map(\.subject) } ?? [])
        }
    }

    struct Bytes: MessageSerializer, MessageDeserializer {
        func serialize<Output: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Output { Output(message) }
        func deserialize<Input: GRPCContiguousBytes>(_ serializedMessageBytes: Input) throws -> [UInt8] {
            serializedMessageBytes.withUnsafeBytes { Array($0) }
        }
    }
}
