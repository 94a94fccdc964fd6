/// Parses resource names (`tenants/{tenant}/apiKeys/{key}`) and applies the one
/// cross-tenant rule: a name in another tenant than the caller's is NOT_FOUND,
/// exactly like a name that does not exist, so nothing about other tenants leaks.
public enum ResourceName {
    /// Parses `tenants/{tenant}` without the ownership check (platform operators name any tenant).
    public static func parseTenant(_ name: String, field: String) throws -> TenantID {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "tenants", let tenant = TenantID(String(parts[1])) else {
            throw DomainError.invalid(field, "expected tenants/{tenant}, got '\(name)'")
        }
        return tenant
    }

    /// `tenants/{tenant}` of the caller's own tenant.
    public static func tenant(_ name: String, field: String, for principal: Principal) throws -> TenantID {
        let tenant = try parseTenant(name, field: field)
        guard tenant == principal.tenantID else { throw DomainError.notFound(name) }
        return tenant
    }

    /// `tenants/{tenant}/users/{user_id}` of the caller's own tenant; user ids may contain `/`.
    public static func user(_ name: String, field: String, for principal: Principal) throws -> (tenant: TenantID, userID: String) {
        let parts = name.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "tenants", let tenant = TenantID(String(parts[1])), parts[2] == "users",
            !parts[3].isEmpty
        else { throw DomainError.invalid(field, "expected tenants/{tenant}/users/{user_id}, got '\(name)'") }
        guard tenant == principal.tenantID else { throw DomainError.notFound(name) }
        return (tenant, String(parts[3]))
    }

    /// `tenants/{tenant}/{collection}/{id}` of the caller's own tenant. (Runs for every
    /// name of every call — five per membership check: bytes, not `split`'s Characters,
    /// which showed in profiles.)
    public static func child(
        _ name: String, collection: String, field: @autoclosure () -> String, for principal: Principal
    ) throws -> (tenant: TenantID, id: String) {
        guard let (tenant, id) = childParts(name, collection: collection), !id.isEmpty, id.utf8.count <= 100 else {
            throw DomainError.invalid(field(), "expected tenants/{tenant}/\(collection)/{id}, got '\(name)'")
        }
        guard tenant == principal.tenantID else { throw DomainError.notFound(name) }
        return (tenant, id)
    }

    /// The tenant and id of `tenants/{tenant}/{collection}/{id}` (exactly four parts), nil otherwise.
    static func childParts(_ name: String, collection: String) -> (tenant: TenantID, id: String)? {
        let bytes = name.utf8
        let slash = UInt8(ascii: "/")
        guard let first = bytes.firstIndex(of: slash), let second = bytes[bytes.index(after: first)...].firstIndex(of: slash),
            let third = bytes[bytes.index(after: second)...].firstIndex(of: slash)
        else { return nil }
        let idStart = bytes.index(after: third)
        guard !bytes[idStart...].contains(slash), bytes[..<first].elementsEqual("tenants".utf8),
            bytes[bytes.index(after: second)..<third].elementsEqual(collection.utf8),
            let tenant = TenantID(String(decoding: bytes[bytes.index(after: first)..<second], as: UTF8.self))
        else { return nil }
        return (tenant, String(decoding: bytes[idStart...], as: UTF8.self))
    }

    /// A reference to one of the caller's segments, as every method that takes one accepts it:
    /// its name (`tenants/{tenant}/segments/{id}`) or its bare id (`cart_abandoners_24h`), which
    /// names the segment of the caller's tenant.
    /// `field` is built only for an error (a batch check names its field per segment).
    public static func segmentReference(
        _ text: String, field: @autoclosure () -> String, for principal: Principal
    ) throws -> (tenant: TenantID, id: String) {
        if !text.utf8.contains(UInt8(ascii: "/")) {
            guard (1...63).contains(text.utf8.count), IngestLimits.isValidName(text) else {
                throw DomainError.invalid(field(), "expected a segment id or tenants/{tenant}/segments/{id}, got '\(text)'")
            }
            return (principal.tenantID, text)
        }
        do {
            return try child(text, collection: "segments", field: field(), for: principal)
        } catch let error as DomainError where error.code == .invalidArgument {
            throw DomainError.invalid(field(), "expected a segment id or tenants/{tenant}/segments/{id}, got '\(text)'")
        }
    }

    /// A resource under one of the caller's segments: `tenants/{t}/segments/{s}/{collection}/{id}`,
    /// or `tenants/{t}/segments/{s}/{collection}` for a singleton (`idName` nil). Returns the id when there is one.
    public static func underSegment(
        _ name: String, _ collection: String, idName: String? = "id", field: String, for principal: Principal
    ) throws -> (tenant: TenantID, segment: String, id: String?) {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        let expected =
            idName.map { "tenants/{tenant}/segments/{segment}/\(collection)/{\($0)}" } ?? "tenants/{tenant}/segments/{segment}/\(collection)"
        guard parts.count == (idName == nil ? 5 : 6), parts[4] == collection, idName == nil || !parts[5].isEmpty else {
            throw DomainError.invalid(field, "expected \(expected), got '\(name.prefix(200))'")
        }
        let (tenant, segment) = try child(parts[0..<4].joined(separator: "/"), collection: "segments", field: field, for: principal)
        return (tenant, segment, idName == nil ? nil : String(parts[5]))
    }

    /// `tenants/{tenant}/segments/{segment}` as the server itself writes it (a job's
    /// target): there is no caller to check it against. Nil when it is not one.
    public static func segment(_ name: String) -> (tenant: TenantID, segment: String)? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "tenants", let tenant = TenantID(String(parts[1])), parts[2] == "segments",
            !parts[3].isEmpty
        else { return nil }
        return (tenant, String(parts[3]))
    }

    /// `tenants/{tenant}/segments/{segment}`.
    public static func segmentName(_ tenant: TenantID, _ segment: String) -> String { "tenants/\(tenant)/segments/\(segment)" }

    /// An etag sent by a client: empty means "don't check".
    public static func etag(_ text: String, field: String = "etag") throws -> Int64? {
        guard !text.isEmpty else { return nil }
        guard let value = Int64(text) else { throw DomainError.invalid(field, "not an etag this server issued") }
        return value
    }

    /// A page size within the method's bounds.
    public static func pageSize(_ requested: Int32, default fallback: Int, maximum: Int) throws -> Int {
        guard requested >= 0 else { throw DomainError.invalid("page_size", "must not be negative") }
        return requested == 0 ? fallback : min(Int(requested), maximum)
    }

    /// Checks an update mask against the fields a method can change.
    public static func updatePaths(_ paths: [String], allowed: Set<String>) throws -> Set<String> {
        guard !paths.isEmpty else {
            throw DomainError.invalid("update_mask", "name the fields to change: \(allowed.sorted().joined(separator: ", "))")
        }
        for path in paths where !allowed.contains(path) {
            throw DomainError.invalid("update_mask", "'\(path)' cannot be changed; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
        return Set(paths)
    }
}
