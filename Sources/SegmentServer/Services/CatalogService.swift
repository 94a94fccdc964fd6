import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

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
        let (types, next) = try await catalog.eventTypes(
            tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
        return .with {
            $0.eventTypes = types.map { type in
                .with {
                    $0.name = "tenants/\(tenant)/eventTypes/\(type.name)"
                    $0.event = type.name
                    $0.count = type.count
                    $0.firstSeenTime = .init(date: type.firstSeen)
                    $0.lastSeenTime = .init(date: type.lastSeen)
                    $0.properties = type.properties.map { property in
                        .with {
                            $0.key = property.key
                            $0.type = Self.wire(property.type)
                        }
                    }
                }
            }
            $0.nextPageToken = next ?? ""
        }
    }

    func listAttributes(request: Segmentd_V1_ListCatalogRequest, context: ServerContext) async throws -> Segmentd_V1_ListAttributesResponse {
        let principal = try RequestContext.require().principal
        let tenant = try ResourceName.tenant(request.parent, field: "parent", for: principal)
        let size = try ResourceName.pageSize(request.pageSize, default: 100, maximum: 1000)
        let (attributes, next) = try await catalog.attributes(
            tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
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
        let (campaigns, next) = try await catalog.campaigns(
            tenant: tenant, pageSize: size, pageToken: request.pageToken.isEmpty ? nil : request.pageToken)
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
