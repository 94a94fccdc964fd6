import Foundation
import GRPCCore
import SegmentEngine
import SegmentdAPI
import SwiftProtobuf
import SegmentDomain
import SegmentRules

/// `segmentd.v1.UserService`: one user's data, and erasure.
struct UserService: Segmentd_V1_UserService.SimpleServiceProtocol {
    let users: UserProfiles

    func getUser(request: Segmentd_V1_GetUserRequest, context: ServerContext) async throws -> Segmentd_V1_User {
        let principal = try RequestContext.require().principal
        let (tenant, userID) = try ResourceName.user(request.name, field: "name", for: principal)
        guard (0...50).contains(request.recentEventCount) else {
            throw DomainError.invalid("recent_event_count", "between 0 and 50")
        }
        let count = request.recentEventCount == 0 ? 20 : Int(request.recentEventCount)
        let user = try await users.get(tenant: tenant, userID: userID, recentEvents: count)
        return .with {
            $0.name = request.name
            $0.userID = user.userID
            $0.firstSeenTime = .init(date: user.firstSeen)
            $0.tags = user.tags
            $0.profile.userID = user.userID
            $0.profile.attributes = Self.values(user.attributesJSON, types: user.attributeTypes)
            if let location = user.lastLocation {
                $0.profile.lastLocation = .with { $0.latitude = location.latitude; $0.longitude = location.longitude }
            }
            if let updated = user.profileUpdated { $0.profile.updateTime = .init(date: updated) }
            $0.recentEvents = user.recentEvents.map { event in
                .with {
                    $0.userID = user.userID
                    $0.name = event.name
                    $0.time = .init(date: event.time)
                    $0.messageID = event.messageID
                    $0.properties = Self.values(event.propertiesJSON, types: [:])
                }
            }
        }
    }

    func deleteUser(request: Segmentd_V1_DeleteUserRequest, context: ServerContext) async throws -> Segmentd_V1_DeleteUserResponse {
        let call = try RequestContext.require()
        let (tenant, userID) = try ResourceName.user(request.name, field: "name", for: call.principal)
        let removed = try await users.delete(tenant: tenant, userID: userID, audit: call.audit())
        return .with { $0.removed = removed }
    }

    /// Stored JSON back to typed values (timestamps by their catalog type).
    static func values(_ json: String, types: [String: ValueType]) -> [String: Segmentd_V1_Value] {
        guard let object = try? JSONDecoder().decode([String: StoredValue].self, from: Data(json.utf8)) else { return [:] }
        var result: [String: Segmentd_V1_Value] = [:]
        for (key, stored) in object {
            var value = Segmentd_V1_Value()
            switch stored {
            case .string(let text):
                if types[key] == .timestamp, let date = try? Date(text, strategy: .iso8601) {
                    value.timestampValue = .init(date: date)
                } else {
                    value.stringValue = text
                }
            case .bool(let flag): value.boolValue = flag
            case .number(let number): value.numberValue = number
            case .list(let list): value.stringListValue = .with { $0.values = list }
            }
            result[key] = value
        }
        return result
    }

    /// A JSON value as stored in a profile or event.
    enum StoredValue: Decodable {
        case string(String), number(Double), bool(Bool), list([String])

        init(from decoder: any Swift.Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
            else if let number = try? container.decode(Double.self) { self = .number(number) }
            else if let text = try? container.decode(String.self) { self = .string(text) }
            else { self = .list(try container.decode([String].self)) }
        }
    }
}

/// `segmentd.v1.CatalogService`: what the tenant has sent.
struct CatalogService: Segmentd_V1_CatalogService.SimpleServiceProtocol {
    let catalog: Catalog

    static func wire(_ type: ValueType) -> Segmentd_V1_ValueType {
        switch type {
        case .string: return .string
        case .number: return .number
        case .bool: return .bool
        case .timestamp: return .timestamp
        case .stringList: return .stringList
        }
    }

    func listEventTypes(request: Segmentd_V1_ListCatalogRequest, context: ServerContext) async throws -> Segmentd_V1_ListEventTypesResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let (types, next) = try await catalog.eventTypes(tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.eventTypes = types.map { type in
                .with {
                    $0.name = "tenants/\(tenant)/eventTypes/\(type.name)"
                    $0.event = type.name
                    $0.count = type.count
                    $0.firstSeenTime = .init(date: type.firstSeen)
                    $0.lastSeenTime = .init(date: type.lastSeen)
                    $0.properties = type.properties.map { property in .with { $0.key = property.key; $0.type = Self.wire(property.type) } }
                }
            }
            $0.nextPageToken = next ?? ""
        }
    }

    func listAttributes(request: Segmentd_V1_ListCatalogRequest, context: ServerContext) async throws -> Segmentd_V1_ListAttributesResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let (attributes, next) = try await catalog.attributes(tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.attributes = attributes.map { attribute in
                .with {
                    $0.name = "tenants/\(tenant)/attributes/\(attribute.key)"
                    $0.key = attribute.key
                    $0.type = Self.wire(attribute.type)
                    $0.count = attribute.count
                    $0.firstSeenTime = .init(date: attribute.firstSeen)
                    $0.lastSeenTime = .init(date: attribute.lastSeen)
                    $0.reserved = IngestLimits.reservedAttributes[attribute.key] != nil
                }
            }
            $0.nextPageToken = next ?? ""
        }
    }

    func listCampaigns(request: Segmentd_V1_ListCatalogRequest, context: ServerContext) async throws -> Segmentd_V1_ListCampaignsResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let (campaigns, next) = try await catalog.campaigns(tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.campaigns = campaigns.map { campaign in
                .with {
                    $0.name = "tenants/\(tenant)/campaigns/\(campaign.id)"
                    $0.campaignID = campaign.id
                    if let first = campaign.firstSend { $0.firstSendTime = .init(date: first) }
                    $0.lastSeenTime = .init(date: campaign.lastSeen)
                    $0.responseCounts = campaign.counts
                }
            }
            $0.nextPageToken = next ?? ""
        }
    }
}
