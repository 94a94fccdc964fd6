import GRPCCore
import SegmentDomain

/// Registers every contract method with a handler that answers UNIMPLEMENTED
/// (reason NOT_IMPLEMENTED_YET). Real services register over it afterwards.
struct UnimplementedMethods: RegistrableRPCService {
    let methods: [MethodDescriptor]

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for method in methods {
            router.registerHandler(
                forMethod: method, deserializer: OpaqueBytes(), serializer: OpaqueBytes()
            ) { (_: StreamingServerRequest<[UInt8]>, _) -> StreamingServerResponse<[UInt8]> in
                throw APIError.notImplementedYet(method)
            }
        }
    }
}

/// A pass-through codec for methods whose messages are never looked at.
struct OpaqueBytes: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
