import Logging
import PostgresNIO
import SegmentDomain

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
