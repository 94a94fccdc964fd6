import ArgumentParser
import Crypto
import Foundation
import SegmentDomain
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and verify your tenant's audit log (permission audit.read).",
            subcommands: [List.self, Tail.self, Verify.self])

        static func row(_ event: Segmentd_V1_AuditEvent) -> [String] {
            [
                String(event.sequence), show(event.time), AuditText.actor(event), event.action, event.resource, event.result,
                AuditText.change(event),
            ]
        }

        static let header = ["SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "RESULT", "CHANGE"]

        struct Filters: ParsableArguments {
            @Option(
                name: .customLong("actor"),
                help: "Only this actor: an API key's name, id or prefix, or tenants/…/apiKeys/…, anonymous, system, jobs/….")
            var actor: String?
            @Option(name: .customLong("action"), help: "Only this action; a trailing * matches a prefix (segmentd.v1.AccessService/*).")
            var action: String?
            @Option(name: .customLong("resource"), help: "Only this resource; a trailing * matches a prefix.") var resource: String?
            @Option(name: .customLong("since"), help: "Only entries after: RFC 3339 or a duration ago (1h, 7d).") var since: String?
            @Option(name: .customLong("until"), help: "Only entries before: RFC 3339 or a duration ago.") var until: String?

            func apply(to request: inout Segmentd_V1_ListAuditEventsRequest) throws {
                request.actor = actor ?? ""
                request.action = action ?? ""
                request.resource = resource ?? ""
                if let since {
                    guard let date = Self.ago(since) else { throw ValidationError("--since: use RFC 3339 or 1h, 7d") }
                    request.startTime = .init(date: date)
                }
                if let until {
                    guard let date = Self.ago(until) else { throw ValidationError("--until: use RFC 3339 or 1h, 7d") }
                    request.endTime = .init(date: date)
                }
            }

            static func ago(_ text: String) -> Date? {
                if let duration = parseDuration(text) { return Date().addingTimeInterval(-Double(duration.components.seconds)) }
                return try? Date(text, strategy: .iso8601)
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List entries, newest first.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var filters: Filters
            @Option(name: .customLong("limit"), help: "Entries at most.") var limit = 50

            func run() async throws {
                try await runCommand {
                    let events = try await connection.withConnection { client in
                        var request = Segmentd_V1_ListAuditEventsRequest()
                        request.parent = try await client.callerTenant()
                        request.pageSize = Int32(min(max(limit, 1), 1000))
                        try filters.apply(to: &request)
                        return try await client.audit.listAuditEvents(request, metadata: client.metadata).auditEvents
                    }
                    if connection.json { return try printJSON(events) }
                    printTable(Audit.header, events.map(Audit.row))
                }
            }
        }

        struct Tail: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print new entries as they are written (Ctrl-C stops).")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var filters: Filters
            @Option(name: .customLong("interval"), help: "Seconds between polls.") var interval = 1.0
            @Option(name: .customLong("last"), help: "Start with this many recent entries.") var last = 10

            func run() async throws {
                try await runCommand {
                    try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        var recent = Segmentd_V1_ListAuditEventsRequest()
                        recent.parent = tenant
                        recent.pageSize = Int32(max(last, 1))
                        try filters.apply(to: &recent)
                        let first = try await client.audit.listAuditEvents(recent, metadata: client.metadata).auditEvents
                        var cursor = first.first?.sequence ?? 0
                        if last > 0 { Audit.emit(first.reversed(), json: connection.json) }
                        while !Task.isCancelled {
                            var request = recent
                            request.afterSequence = cursor
                            request.ascending = true
                            request.pageSize = 1000
                            let events = try await client.audit.listAuditEvents(request, metadata: client.metadata).auditEvents
                            Audit.emit(events, json: connection.json)
                            cursor = events.last?.sequence ?? cursor
                            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                        }
                    }
                }
            }
        }

        /// One line per entry, flushed at once (tail is read live).
        static func emit(_ events: [Segmentd_V1_AuditEvent], json: Bool) {
            for event in events {
                if json {
                    var options = JSONEncodingOptions()
                    options.preserveProtoFieldNames = true
                    print((try? event.jsonString(options: options)) ?? "{}")
                } else {
                    print(row(event).filter { !$0.isEmpty }.joined(separator: "  "))
                }
            }
            fflush(nil)  // flush all streams (stdout itself is not concurrency-safe to name)
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Recompute the hash chain, and compare it with signed checkpoints: reports OK, or the first problem (exit 3).",
                discussion: """
                    The chain alone shows edits made without recomputing hashes. Whoever owns the database can \
                    also recompute them; --checkpoints compares the chain with the checkpoints segmentd signed \
                    with a key the database does not hold (<home>/audit/checkpoints.jsonl), which catches that.
                    """)
            @OptionGroup var connection: ConnectionOptions
            @Option(
                name: .customLong("checkpoints"),
                help: "A file of signed checkpoints (segmentd's audit_checkpoint_file): each must be signed and match the live chain.")
            var checkpoints: String?
            @Option(
                name: .customLong("public-key"),
                help: "The key checkpoints must be signed by: base64, or a file holding it (<home>/audit/checkpoint-signing.pub).")
            var publicKey: String?

            func validate() throws {
                if publicKey != nil && checkpoints == nil { throw ValidationError("--public-key needs --checkpoints") }
            }

            func run() async throws {
                try await runCommand {
                    let trusted = try publicKey.map(Self.key)
                    let file: String? = try checkpoints.map { path in
                        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                            throw ClientError(.invalidArgument, "cannot read the checkpoint file \(path)")
                        }
                        return text
                    }
                    let (result, tenant, report) = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        let result = try await client.audit.verifyAuditChain(.with { $0.parent = tenant }, metadata: client.metadata)
                        guard let file else { return (result, tenant, nil as AuditCheckpointReport?) }
                        guard let chain = TenantID(String(tenant.dropFirst("tenants/".count))) else {
                            throw ClientError(.server, "the server named the caller's tenant '\(tenant)'")
                        }
                        let report = try await AuditCheckpointVerifier(trustedKey: trusted).verify(file, chain: chain) { sequence in
                            try await client.auditHash(parent: tenant, sequence: sequence)
                        }
                        return (result, tenant, report)
                    }
                    if connection.json {
                        try Self.printReportJSON(result, report)
                    } else {
                        if result.ok {
                            print("OK: \(result.checked) entries, chain head at sequence \(result.headSequence)")
                        } else {
                            print(
                                "BROKEN: \(result.problem) at sequence \(result.firstBadSequence) (\(result.checked) entries checked, head \(result.headSequence))"
                            )
                        }
                        if let report { print(Self.describe(report, tenant: tenant)) }
                    }
                    if !result.ok || report?.ok == false { throw ExitCode(3) }
                }
            }

            /// A key given as base64 or as a file holding it.
            static func key(_ text: String) throws -> Curve25519.Signing.PublicKey {
                let value = FileManager.default.fileExists(atPath: text) ? (try? String(contentsOfFile: text, encoding: .utf8)) ?? "" : text
                do {
                    return try AuditCheckpoint.publicKey(base64: value)
                } catch let error as DomainError {
                    throw ClientError(.invalidArgument, "--public-key: \(error.message)")
                }
            }

            static func describe(_ report: AuditCheckpointReport, tenant: String) -> String {
                if let problem = report.problem {
                    return "CHECKPOINT FAILED: \(problem.kind.rawValue) at line \(problem.line): \(problem.message)"
                }
                let others = report.otherChains > 0 ? " (\(report.otherChains) of other tenants skipped)" : ""
                let key =
                    report.keyPinned
                    ? "signed by the given key"
                    : "signed by \(report.signingKey ?? "-"), the file's own key: pass --public-key <home>/audit/checkpoint-signing.pub to pin it"
                guard let latest = report.latestSequence else {
                    return "CHECKPOINTS: none of \(tenant) in the file yet, nothing compared\(others)"
                }
                return "CHECKPOINTS OK: \(report.matched) of \(tenant) match the chain, the latest at sequence \(latest)\(others); \(key)"
            }

            static func printReportJSON(_ result: Segmentd_V1_VerifyAuditChainResponse, _ report: AuditCheckpointReport?) throws {
                guard let report else { return try printJSON(result) }
                var options = JSONEncodingOptions()
                options.preserveProtoFieldNames = true
                let chain = try JSONSerialization.jsonObject(with: Data(try result.jsonString(options: options).utf8))
                var checkpoints: [String: Any] = [
                    "ok": report.ok, "matched": report.matched, "other_chains": report.otherChains, "key_pinned": report.keyPinned,
                ]
                if let key = report.signingKey { checkpoints["signing_key"] = key }
                if let latest = report.latestSequence { checkpoints["latest_sequence"] = latest }
                if let problem = report.problem {
                    var detail: [String: Any] = ["kind": problem.kind.rawValue, "line": problem.line, "message": problem.message]
                    if let sequence = problem.sequence { detail["sequence"] = sequence }
                    if let signed = problem.signedHash { detail["signed_hash"] = signed }
                    if let current = problem.chainHash { detail["chain_hash"] = current }
                    checkpoints["problem"] = detail
                }
                printJSON(["chain": chain, "checkpoints": checkpoints])
            }
        }
    }
}
