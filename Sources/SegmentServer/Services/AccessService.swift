import GRPCCore
import GRPCProtobuf
import SegmentStore
import SegmentdAPI

/// `segmentd.v1.AccessService`: so far the caller's identity (`whoami`); key and
/// role management arrive with the tenancy issue and answer UNIMPLEMENTED until then.
struct AccessService: RegistrableRPCService {
    let serverVersion: String

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Segmentd_V1_AccessService.Method.GetCallerIdentity.descriptor,
            deserializer: ProtobufDeserializer<Segmentd_V1_GetCallerIdentityRequest>(),
            serializer: ProtobufSerializer<Segmentd_V1_CallerIdentity>()
        ) { request, context in
            _ = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: try self.callerIdentity()))
        }
    }

    func callerIdentity() throws -> Segmentd_V1_CallerIdentity {
        let principal = try RequestContext.require().principal
        return .with {
            $0.tenant = "tenants/\(principal.tenantID)"
            $0.apiKey = principal.keyName
            $0.apiKeyDisplayName = principal.keyDisplayName
            $0.apiKeyPrefix = principal.keyDisplayPrefix
            $0.roles = principal.roles
            $0.serverVersion = serverVersion
        }
    }
}
