import Foundation
import GRPCCore
import Logging
import Metrics
import SegmentDomain
import SegmentEngine

/// Authenticates and authorizes every call, in one place, from ``MethodPolicy``;
/// records denied and unauthenticated calls in the audit log; and runs the
/// handler (and its response stream) with ``RequestContext/current`` set.
///
/// A streaming call is authorized again for every message it receives or sends
/// (through the authenticator's cache, so at most one lookup per cache period):
/// a key revoked, expired or stripped of the permission while a `StreamIngest`,
/// a replace stream or a member stream is open stops it at its next message, as
/// soon as it would stop a new call.
///
/// The key is read from `authorization: Bearer <key>` or `x-api-key`.
struct AccessInterceptor: ServerInterceptor {
    let authenticator: Authenticator
    let health: HealthMonitor
    let auditTrail: AuditTrail
    let logger: Logger
    /// At most one "rejected a call" line a second: a flood of bad keys must not flood the log.
    let rejectionLog = RateLimitedLog(interval: .seconds(1))

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = context.descriptor.fullyQualifiedMethod
        guard let policy = MethodPolicy.of(context.descriptor) else {
            logger.error("a method has no access policy; refusing it", metadata: ["method": "\(method)"])
            throw APIError(.permissionDenied, "\(method) has no access policy", reason: "PERMISSION_MISSING")
        }
        if policy.requirement == .none {
            return try await next(request, context)
        }
        guard health.status == .serving else { throw APIError.notServing }

        let requestID = Self.firstString(request.metadata, "x-request-id") ?? Self.newRequestID()
        let userAgent = Self.firstString(request.metadata, "user-agent") ?? ""
        let presented = Self.presentedKey(request.metadata)
        let type = context.descriptor.type
        // What a refused call was aimed at: read only when it is refused, and only from a
        // single request message (a stream's first message may never come).
        let target: @Sendable () async -> String = {
            guard type?.isRequestStreaming == false else { return "" }
            do {
                for try await message in request.messages { return RequestTarget.of(message) }
            } catch {}
            return ""
        }
        let principal: Principal
        switch try await authenticator.authenticate(presented, peer: Self.peerAddress(context.remotePeer)) {
        case .success(let resolved):
            principal = resolved
        case .failure(let failure):
            throw await refuse(
                failure, presented: presented, method: method, requestID: requestID, peer: context.remotePeer, userAgent: userAgent,
                target: target)
        }
        try authenticator.admit(principal)

        let requestContext = RequestContext(
            principal: principal, method: method, mutates: policy.mutates, requestID: requestID,
            peer: context.remotePeer, userAgent: userAgent)
        try await authorize(principal, policy.requirement, requestContext, target: target)
        await authenticator.noteUse(principal)

        // Streams are authorized again per message (unary calls have just been); a refused
        // message received names its own target.
        let recheck: @Sendable (_ target: @Sendable () async -> String) async throws -> Void = { target in
            switch try await authenticator.authenticate(presented, peer: Self.peerAddress(requestContext.peer)) {
            case .success(let current) where current.keyName == principal.keyName:
                try await authorize(current, policy.requirement, requestContext, target: target)
            case .success:
                throw APIError.unauthenticated(.unknown)
            case .failure(let failure):
                throw await refuse(
                    failure, presented: presented, method: method, requestID: requestID, peer: requestContext.peer, userAgent: userAgent,
                    target: target)
            }
        }
        var checked = request
        if type?.isRequestStreaming ?? true {
            checked.messages = RPCAsyncSequence(
                wrapping: request.messages.map { message in
                    try await recheck { RequestTarget.of(message) }
                    return message
                })
        }
        let responseStreaming = type?.isResponseStreaming ?? true
        return try await RequestContext.$current.withValue(requestContext) {
            try await next(checked, context).wrappingProducer { producer, writer in
                try await RequestContext.$current.withValue(requestContext) {
                    try await producer(
                        responseStreaming ? RPCWriter(wrapping: CheckedWriter(base: writer, check: { try await recheck { "" } })) : writer)
                }
            }
        }
    }

    /// PERMISSION_DENIED (audited, with the resource the call was aimed at) unless
    /// `principal` meets `requirement`.
    private func authorize(
        _ principal: Principal, _ requirement: MethodPolicy.Requirement, _ call: RequestContext, target: () async -> String
    ) async throws {
        guard case .permission(let permission) = requirement, !principal.has(permission) else { return }
        await audit(
            AuditEntry(
                actor: call.auditActor, action: call.method, resource: await target(), result: "PERMISSION_DENIED",
                after: ["missing_permission": .string(permission.name)]),
            tenant: principal.tenantID)
        throw APIError.permissionDenied(permission)
    }

    /// Counts and logs a refused key and returns the UNAUTHENTICATED error to throw.
    private func refuse(
        _ failure: AuthenticationFailure, presented: String?, method: String, requestID: String, peer: String, userAgent: String,
        target: () async -> String
    ) async -> APIError {
        Counter(label: "segmentd_auth_rejections_total", dimensions: [("reason", "\(failure)")]).increment()
        if rejectionLog.allow() {
            logger.info("rejected a call", metadata: ["method": "\(method)", "reason": "\(failure)", "peer": "\(peer)"])
        }
        // A call with no key, a malformed one or one no tenant issued costs no database write: a
        // flood of them must not grow the audit log or hold its chain's lock. A key that exists
        // (revoked, expired, its tenant disabled) is audited, in the platform's chain, at most
        // once a minute per key; the entry counts the refusals since the previous one.
        if [.revoked, .expired, .tenantDisabled].contains(failure), let unrecorded = authenticator.failureAuditDue(presented) {
            let display = Authenticator.displayPrefix(of: presented)
            await audit(
                AuditEntry(
                    actor: AuditActor(name: "anonymous", display: display, requestID: requestID, peer: peer, userAgent: userAgent),
                    action: method, resource: await target(), result: "UNAUTHENTICATED",
                    after: unrecorded > 0 ? ["unrecorded_refusals": .number(Double(unrecorded))] : nil),
                tenant: .platform)
        }
        return APIError.unauthenticated(failure)
    }

    /// Appends a denial; a failure to audit is logged, never hidden behind another error.
    private func audit(_ entry: AuditEntry, tenant: TenantID) async {
        do {
            try await auditTrail.append(entry, tenant: tenant)
        } catch {
            logger.error("could not audit a refused call", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// The address of a peer as gRPC describes it (`ipv4:10.0.0.7:53122`, `ipv6:[::1]:53122`), without the port.
    static func peerAddress(_ peer: String) -> String {
        var address = Substring(peer)
        for scheme in ["ipv4:", "ipv6:"] where address.hasPrefix(scheme) { address = address.dropFirst(scheme.count) }
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<close])
        }
        if let colon = address.lastIndex(of: ":"), !address[..<colon].contains(":") { return String(address[..<colon]) }
        return String(address)
    }

    /// A random request id, a lowercase UUID (`UUID().uuidString.lowercased()` made two
    /// strings on every call without one: it showed in profiles).
    static func newRequestID() -> String {
        let digits = Array("0123456789abcdef".utf8)
        return withUnsafeBytes(of: UUID().uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { buffer in
                var at = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        buffer[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    buffer[at] = digits[Int(byte >> 4)]
                    buffer[at + 1] = digits[Int(byte & 15)]
                    at += 2
                }
                return at
            }
        }
    }

    static func firstString(_ metadata: Metadata, _ key: String) -> String? {
        for value in metadata[stringValues: key] { return String(value) }
        return nil
    }

    /// The key from `authorization: Bearer …` or `x-api-key`. (Runs on every call:
    /// plain comparisons, not Foundation's character sets, which showed in profiles.)
    static func presentedKey(_ metadata: Metadata) -> String? {
        for value in metadata[stringValues: "authorization"] {
            let trimmed = trimmingBlanks(value[...])
            if trimmed.utf8.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
                return String(trimmingBlanks(trimmed.dropFirst(7)))
            }
        }
        for value in metadata[stringValues: "x-api-key"] {
            return String(trimmingBlanks(value[...]))
        }
        return nil
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmingBlanks(_ text: Substring) -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) }) else { return "" }
        return text[first...last]
    }
}

/// A response writer that authorizes the call again before each message.
private struct CheckedWriter<Element: Sendable>: RPCWriterProtocol {
    let base: RPCWriter<Element>
    let check: @Sendable () async throws -> Void

    func write(_ element: Element) async throws {
        try await check()
        try await base.write(element)
    }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        try await check()
        try await base.write(contentsOf: elements)
    }
}
