import Logging
import PostgresNIO
import SegmentDomain

/// Who is changing what, for the audit entry of a change.
public struct AuditContext: Sendable {
    /// The tenant whose chain records the change.
    public var tenant: TenantID
    public var actor: AuditActor
    /// The RPC method or job action.
    public var action: String
    /// Names the outcome of a failed change (a gRPC status code name).
    public var resultCode: @Sendable (any Error) -> String

    public init(tenant: TenantID, actor: AuditActor, action: String, resultCode: @escaping @Sendable (any Error) -> String) {
        self.tenant = tenant
        self.actor = actor
        self.action = action
        self.resultCode = resultCode
    }
}

/// What a change writes into its audit entry, filled in as the change learns it.
public struct AuditRecord: Sendable {
    /// The resource acted on.
    public var resource: String
    /// Changed fields before.
    public var before: AuditFields?
    /// Changed fields after.
    public var after: AuditFields?

    public init(resource: String, before: AuditFields? = nil, after: AuditFields? = nil) {
        self.resource = resource
        self.before = before
        self.after = after
    }
}

extension Database {
    /// Runs a change in a transaction scoped to `context.tenant` and appends its
    /// audit entry in the same transaction: both commit, or neither does.
    ///
    /// When the change fails, its transaction rolls back and the failure is
    /// recorded in a transaction of its own, with the outcome named by
    /// `context.resultCode`.
    public func audited<Result: Sendable>(
        _ context: AuditContext,
        resource: String,
        _ body: (PostgresConnection, inout AuditRecord) async throws -> sending Result
    ) async throws -> sending Result {
        var attempted = AuditRecord(resource: resource)
        do {
            return try await withTenant(context.tenant) { connection in
                var record = AuditRecord(resource: resource)
                defer { attempted = record }
                let result = try await body(connection, &record)
                try await AuditLog.append(
                    AuditEntry(
                        actor: context.actor, action: context.action, resource: record.resource, result: "OK",
                        before: record.before, after: record.after),
                    tenant: context.tenant, on: connection, logger: logger)
                return result
            }
        } catch {
            let failure = AuditEntry(
                actor: context.actor, action: context.action, resource: attempted.resource,
                result: context.resultCode(error))
            do {
                try await AuditLog(database: self).append(failure, tenant: context.tenant)
            } catch {
                logger.error("could not audit a failed change", metadata: ["error": "\(String(reflecting: error))"])
            }
            throw error
        }
    }
}
