import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI

/// `segmentd.v1.IngestionService`: profiles, events, campaign responses and
/// locations, in atomic batches; `StreamIngest` commits each streamed batch as it arrives.
struct IngestionService: Segmentd_V1_IngestionService.SimpleServiceProtocol {
    let ingestion: Ingestion

    func upsertProfiles(request: Segmentd_V1_UpsertProfilesRequest, context: ServerContext) async throws -> Segmentd_V1_IngestResponse {
        try await profiles(request, parent: request.parent)
    }

    func ingestEvents(request: Segmentd_V1_IngestEventsRequest, context: ServerContext) async throws -> Segmentd_V1_IngestResponse {
        try await events(request, parent: request.parent)
    }

    func recordCampaignResponses(
        request: Segmentd_V1_RecordCampaignResponsesRequest, context: ServerContext
    ) async throws -> Segmentd_V1_IngestResponse {
        try await responses(request, parent: request.parent)
    }

    func recordLocations(request: Segmentd_V1_RecordLocationsRequest, context: ServerContext) async throws -> Segmentd_V1_IngestResponse {
        try await locations(request, parent: request.parent)
    }

    func streamIngest(
        request: RPCAsyncSequence<Segmentd_V1_IngestBatch, any Error>, context: ServerContext
    ) async throws -> Segmentd_V1_IngestStreamResponse {
        var batches: Int64 = 0
        var totals = Segmentd_V1_IngestResponse()
        var parent = ""
        for try await batch in request {
            if parent.isEmpty { parent = batch.parent }
            let result: Segmentd_V1_IngestResponse
            switch batch.records {
            case .profiles(let profiles): result = try await self.profiles(profiles, parent: parent)
            case .events(let events): result = try await self.events(events, parent: parent)
            case .responses(let responses): result = try await self.responses(responses, parent: parent)
            case .locations(let locations): result = try await self.locations(locations, parent: parent)
            case .none: throw DomainError.invalid("records", "batch \(batches) carries no records")
            }
            batches += 1
            totals.accepted += result.accepted
            totals.duplicates += result.duplicates
            totals.newUsers += result.newUsers
        }
        return .with {
            $0.batches = batches
            $0.totals = totals
        }
    }

    // MARK: Batches

    private func events(_ request: Segmentd_V1_IngestEventsRequest, parent: String) async throws -> Segmentd_V1_IngestResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(parent, field: "parent", for: call.principal)
        var violations: [RecordViolation] = []
        let events = request.events.enumerated().map { index, event in
            EventInput(
                userID: event.userID, name: event.name, time: event.hasTime ? event.time.date : nil,
                properties: Self.values(event.properties, index: index, field: "properties", into: &violations),
                messageID: event.messageID.isEmpty ? nil : event.messageID)
        }
        return try await run("events", violations) {
            try await ingestion.ingestEvents(events, tenant: tenant, audit: call.audit())
        }
    }

    private func profiles(_ request: Segmentd_V1_UpsertProfilesRequest, parent: String) async throws -> Segmentd_V1_IngestResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(parent, field: "parent", for: call.principal)
        var violations: [RecordViolation] = []
        let profiles = request.profiles.enumerated().map { index, profile in
            ProfileInput(
                userID: profile.userID,
                attributes: Self.values(profile.attributes, index: index, field: "attributes", into: &violations),
                lastLocation: profile.hasLastLocation ? (profile.lastLocation.latitude, profile.lastLocation.longitude) : nil)
        }
        return try await run("profiles", violations) {
            try await ingestion.upsertProfiles(
                profiles, mode: request.mode == .replace ? .replace : .merge, removing: request.removeAttributes,
                tenant: tenant, audit: call.audit())
        }
    }

    private func responses(
        _ request: Segmentd_V1_RecordCampaignResponsesRequest, parent: String
    ) async throws -> Segmentd_V1_IngestResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(parent, field: "parent", for: call.principal)
        var violations: [RecordViolation] = []
        var responses: [ResponseInput] = []
        for (index, response) in request.responses.enumerated() {
            let kind: ResponseKind
            switch response.kind {
            case .received: kind = .received
            case .opened: kind = .opened
            case .clicked: kind = .clicked
            case .converted: kind = .converted
            default:
                violations.append(.init(index: index, field: "kind", reason: "one of RECEIVED, OPENED, CLICKED, CONVERTED"))
                continue
            }
            responses.append(
                ResponseInput(
                    userID: response.userID, campaignID: response.campaignID, kind: kind,
                    time: response.hasTime ? response.time.date : nil))
        }
        return try await run("responses", violations) {
            try await ingestion.recordResponses(responses, tenant: tenant, audit: call.audit())
        }
    }

    private func locations(_ request: Segmentd_V1_RecordLocationsRequest, parent: String) async throws -> Segmentd_V1_IngestResponse {
        let call = try RequestContext.require()
        let tenant = try ResourceName.tenant(parent, field: "parent", for: call.principal)
        let locations = request.locations.map {
            LocationInput(
                userID: $0.userID, latitude: $0.point.latitude, longitude: $0.point.longitude,
                time: $0.hasTime ? $0.time.date : nil)
        }
        return try await run("locations", []) {
            try await ingestion.recordLocations(locations, tenant: tenant, audit: call.audit())
        }
    }

    /// Rejects early conversion problems, runs the batch, and names fields as
    /// the request does (`events[3].properties.amount`).
    private func run(
        _ collection: String, _ violations: [RecordViolation], _ body: () async throws -> IngestResult
    ) async throws -> Segmentd_V1_IngestResponse {
        do {
            if !violations.isEmpty { throw BatchRejected(violations) }
            let result = try await body()
            return .with {
                $0.accepted = Int64(result.accepted)
                $0.duplicates = Int64(result.duplicates)
                $0.newUsers = Int64(result.newUsers)
            }
        } catch let rejected as BatchRejected {
            throw APIError.rejected(rejected, collection: collection)
        }
    }

    /// Converts wire values, recording unset ones as violations.
    static func values(
        _ values: [String: Segmentd_V1_Value], index: Int, field: String, into violations: inout [RecordViolation]
    ) -> [String: RuleValue] {
        var result: [String: RuleValue] = [:]
        for (key, value) in values {
            switch value.kind {
            case .stringValue(let text): result[key] = .string(text)
            case .numberValue(let number): result[key] = .number(number)
            case .boolValue(let flag): result[key] = .bool(flag)
            case .timestampValue(let time): result[key] = .time(time.date)
            case .stringListValue(let list): result[key] = .list(list.values)
            case .none: violations.append(.init(index: index, field: "\(field).\(key)", reason: "the value is not set"))
            }
        }
        return result
    }
}

extension APIError {
    /// A rejected batch: INVALID_ARGUMENT (or RESOURCE_EXHAUSTED over a limit)
    /// with a field violation for every bad record.
    static func rejected(_ rejection: BatchRejected, collection: String) -> APIError {
        let violations = rejection.violations.map { violation in
            (
                field: violation.index >= 0 ? "\(collection)[\(violation.index)].\(violation.field)" : violation.field,
                description: violation.reason
            )
        }
        let first = violations.first.map { "\($0.field): \($0.description)" } ?? ""
        return APIError(
            rejection.overLimit ? .resourceExhausted : .invalidArgument,
            "the batch was rejected and nothing was written: \(violations.count) problem(s); first: \(first)",
            reason: rejection.overLimit ? "LIMIT_EXCEEDED" : "INVALID_FIELD", fieldViolations: violations)
    }
}
