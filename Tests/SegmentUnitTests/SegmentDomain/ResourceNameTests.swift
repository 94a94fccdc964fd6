import Testing

@testable import SegmentDomain

@Suite("Resource names: parsed by bytes, other tenants' names NOT_FOUND")
struct ResourceNameTests {
    static let caller = Principal(
        tenantID: TenantID("acme")!, keyID: "k1", keyDisplayName: "ci", keyDisplayPrefix: "sgd_abc", roles: ["viewer"], isPlatform: false,
        permissions: [])

    static func code(_ name: String, collection: String = "segments") -> DomainError.Code? {
        do {
            _ = try ResourceName.child(name, collection: collection, field: "name", for: caller)
            return nil
        } catch let error as DomainError {
            return error.code
        } catch {
            return .internalError
        }
    }

    @Test("a child of the caller's tenant gives its tenant and id")
    func valid() throws {
        let (tenant, id) = try ResourceName.child(
            "tenants/acme/segments/cart_abandoners_24h", collection: "segments", field: "name", for: Self.caller)
        #expect(tenant.rawValue == "acme" && id == "cart_abandoners_24h")
        #expect(try ResourceName.child("tenants/acme/apiKeys/k-1", collection: "apiKeys", field: "name", for: Self.caller).id == "k-1")
        #expect(
            try ResourceName.child(
                "tenants/acme/segments/\(String(repeating: "a", count: 100))", collection: "segments", field: "name", for: Self.caller
            ).id.count == 100)
    }

    @Test(
        "malformed names are INVALID_ARGUMENT; another tenant's is NOT_FOUND, like a name that does not exist",
        arguments: [
            ("tenants/acme/segments/", DomainError.Code.invalidArgument), ("tenants/acme/segments/a/b", .invalidArgument),
            ("tenants/acme/segment/a", .invalidArgument), ("tenant/acme/segments/a", .invalidArgument), ("tenants/acme/segments", .invalidArgument),
            ("tenants//segments/a", .invalidArgument), ("tenants/ACME/segments/a", .invalidArgument), ("", .invalidArgument),
            ("/tenants/acme/segments/a", .invalidArgument), ("tenants/acme/segments/\(String(repeating: "a", count: 101))", .invalidArgument),
            ("tenants/globex/segments/a", .notFound), ("tenants/acme/segmentsx/a", .invalidArgument),
        ])
    func refused(_ name: String, _ code: DomainError.Code) {
        #expect(Self.code(name) == code, "\(name)")
    }
}
