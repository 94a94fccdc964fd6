import GRPCCore
import SegmentDomain
import SegmentdAPI

/// Every service and method of the v1 contract (proto-schema/), from the
/// generated descriptors: the health service knows the services by it, and a
/// test checks that the server registers every method.
public enum Contract {
    /// Methods of each service, by service.
    public static let services: [(service: ServiceDescriptor, methods: [MethodDescriptor])] = [
        (Grpc_Health_V1_Health.descriptor, Grpc_Health_V1_Health.Method.descriptors),
        (Segmentd_V1_TenantService.descriptor, Segmentd_V1_TenantService.Method.descriptors),
        (Segmentd_V1_AccessService.descriptor, Segmentd_V1_AccessService.Method.descriptors),
        (Segmentd_V1_AuditService.descriptor, Segmentd_V1_AuditService.Method.descriptors),
        (Segmentd_V1_IngestionService.descriptor, Segmentd_V1_IngestionService.Method.descriptors),
        (Segmentd_V1_UserService.descriptor, Segmentd_V1_UserService.Method.descriptors),
        (Segmentd_V1_TagService.descriptor, Segmentd_V1_TagService.Method.descriptors),
        (Segmentd_V1_CatalogService.descriptor, Segmentd_V1_CatalogService.Method.descriptors),
        (Segmentd_V1_RuleService.descriptor, Segmentd_V1_RuleService.Method.descriptors),
        (Segmentd_V1_SegmentService.descriptor, Segmentd_V1_SegmentService.Method.descriptors),
        (Segmentd_V1_OperationService.descriptor, Segmentd_V1_OperationService.Method.descriptors),
        (Segmentd_V1_MembershipService.descriptor, Segmentd_V1_MembershipService.Method.descriptors),
        (Segmentd_V1_ConnectorService.descriptor, Segmentd_V1_ConnectorService.Method.descriptors),
        (Segmentd_V1_PredictiveService.descriptor, Segmentd_V1_PredictiveService.Method.descriptors),
    ]

    /// Every method of the contract.
    public static var allMethods: [MethodDescriptor] { services.flatMap(\.methods) }
}
