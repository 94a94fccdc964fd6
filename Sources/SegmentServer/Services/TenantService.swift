import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// `segmentd.v1.TenantService`: platform operators manage tenants; any key may
/// read its own tenant.
struct TenantService: Segmentd_V1_TenantService.SimpleServiceProtocol {
    let tenants: TenantAdministration

    func createTenant(
        request: Segmentd_V1_CreateTenantRequest, context: ServerContext
    ) async throws -> Segmentd_V1_CreateTenantResponse {
        let call = try RequestContext.require()
        guard let id = TenantID(request.tenantID), id != .platform else {
            throw DomainError.invalid(
                "tenant_id", "'\(request.tenantID)' is not a tenant id: 2-40 of a-z, 0-9 and '-', starting with a letter ('platform' is reserved)")
        }
        let displayName = request.tenant.displayName.isEmpty ? id.rawValue : request.tenant.displayName
        let timeZone = request.tenant.timeZone.isEmpty ? "UTC" : request.tenant.timeZone
        let (tenant, issued) = try await tenants.create(
            id: id, displayName: displayName, timeZone: timeZone, audit: call.audit())
        return .with {
            $0.tenant = .init(tenant)
            $0.ownerKey = .with {
                $0.apiKey = .init(issued.record)
                $0.secret = issued.plaintext
            }
        }
    }

    func getTenant(request: Segmentd_V1_GetTenantRequest, context: ServerContext) async throws -> Segmentd_V1_Tenant {
        let principal = try RequestContext.require().principal
        let id = try Self.tenantID(request.name)
        if principal.isPlatform && principal.has(.tenantsManage) {
            return .init(try await tenants.get(id, context: .platform))
        }
        guard id == principal.tenantID else { throw DomainError.notFound(request.name) }
        return .init(try await tenants.get(id, context: id))
    }

    func listTenants(
        request: Segmentd_V1_ListTenantsRequest, context: ServerContext
    ) async throws -> Segmentd_V1_ListTenantsResponse {
        let size = try ResourceName.pageSize(request.pageSize, default: 50, maximum: 500)
        let (tenants, next) = try await tenants.list(
            showDisabled: request.showDisabled, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.tenants = tenants.map(Segmentd_V1_Tenant.init)
            $0.nextPageToken = next ?? ""
        }
    }

    func updateTenant(request: Segmentd_V1_UpdateTenantRequest, context: ServerContext) async throws -> Segmentd_V1_Tenant {
        let call = try RequestContext.require()
        let id = try Self.tenantID(request.tenant.name, field: "tenant.name")
        let paths = try ResourceName.updatePaths(request.updateMask.paths, allowed: ["display_name", "time_zone"])
        let updated = try await tenants.update(
            id, displayName: paths.contains("display_name") ? request.tenant.displayName : nil,
            timeZone: paths.contains("time_zone") ? request.tenant.timeZone : nil,
            etag: try ResourceName.etag(request.tenant.etag, field: "tenant.etag"), audit: call.audit())
        return .init(updated)
    }

    func disableTenant(request: Segmentd_V1_SetTenantStateRequest, context: ServerContext) async throws -> Segmentd_V1_Tenant {
        try await setState(request, active: false)
    }

    func enableTenant(request: Segmentd_V1_SetTenantStateRequest, context: ServerContext) async throws -> Segmentd_V1_Tenant {
        try await setState(request, active: true)
    }

    private func setState(_ request: Segmentd_V1_SetTenantStateRequest, active: Bool) async throws -> Segmentd_V1_Tenant {
        let call = try RequestContext.require()
        let id = try Self.tenantID(request.name)
        return .init(try await tenants.setState(id, active: active, etag: try ResourceName.etag(request.etag), audit: call.audit()))
    }

    static func tenantID(_ name: String, field: String = "name") throws -> TenantID {
        try ResourceName.parseTenant(name, field: field)
    }
}
