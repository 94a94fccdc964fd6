import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient
import SwiftProtobuf

extension Segctl {
    /// What a rule can name: the tenant's events with their properties, attributes,
    /// campaigns (and which one is "the last campaign"), and tags.
    struct Catalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what rules can use: events and their properties, attributes, campaigns, tags (users.read, tags.read).")
        @OptionGroup var connection: ConnectionOptions

        /// Everything the catalog holds, read page by page.
        struct Contents: Sendable {
            var events: [Segmentd_V1_EventType] = []
            var attributes: [Segmentd_V1_Attribute] = []
            var campaigns: [Segmentd_V1_Campaign] = []
            var tags: [Segmentd_V1_Tag] = []
        }

        func run() async throws {
            try await runCommand {
                let contents = try await connection.withConnection { client in
                    let tenant = try await client.callerTenant()
                    var contents = Contents()
                    var token = ""
                    repeat {
                        let page = try await client.catalog.listEventTypes(Self.request(tenant, token), metadata: client.metadata)
                        contents.events += page.eventTypes
                        token = page.nextPageToken
                    } while !token.isEmpty
                    repeat {
                        let page = try await client.catalog.listAttributes(Self.request(tenant, token), metadata: client.metadata)
                        contents.attributes += page.attributes
                        token = page.nextPageToken
                    } while !token.isEmpty
                    repeat {
                        let page = try await client.catalog.listCampaigns(Self.request(tenant, token), metadata: client.metadata)
                        contents.campaigns += page.campaigns
                        token = page.nextPageToken
                    } while !token.isEmpty
                    repeat {
                        let page = try await client.tags.listTags(
                            .with {
                                $0.parent = tenant
                                $0.pageToken = token
                                $0.pageSize = 1000
                            }, metadata: client.metadata)
                        contents.tags += page.tags
                        token = page.nextPageToken
                    } while !token.isEmpty
                    return contents
                }
                if connection.json { return try Self.printJSON(contents) }
                Self.printText(contents)
            }
        }

        static func request(_ tenant: String, _ token: String) -> Segmentd_V1_ListCatalogRequest {
            .with {
                $0.parent = tenant
                $0.pageSize = 1000
                $0.pageToken = token
            }
        }

        /// A value type as rules write it.
        static func typeName(_ type: Segmentd_V1_ValueType) -> String {
            switch type {
            case .string: "string"
            case .number: "number"
            case .bool: "bool"
            case .timestamp: "timestamp"
            case .stringList: "string list"
            default: "unknown"
            }
        }

        static func printText(_ contents: Contents) {
            print("EVENTS (did EVENT …; properties in where filters and aggregates)")
            printTable(
                ["EVENT", "COUNT", "LAST SEEN", "PROPERTIES"],
                contents.events.map { event in
                    [
                        event.event, String(event.count), show(event.lastSeenTime),
                        event.properties.map { "\($0.key) (\(typeName($0.type)))" }.joined(separator: ", "),
                    ]
                })
            print("\nATTRIBUTES (profile.KEY)")
            printTable(
                ["ATTRIBUTE", "TYPE", "VALUES", "LAST SEEN", ""],
                contents.attributes.map { [$0.key, typeName($0.type), String($0.count), show($0.lastSeenTime), $0.reserved ? "reserved" : ""] })
            print("\nCAMPAIGNS (responded to campaign ID; 'the last campaign' is the latest first send)")
            let last = contents.campaigns.max {
                ($0.firstSendTime.seconds, $0.firstSendTime.nanos) < ($1.firstSendTime.seconds, $1.firstSendTime.nanos)
            }
            printTable(
                ["CAMPAIGN", "FIRST SEND", "RESPONSES", ""],
                contents.campaigns.map { campaign in
                    [
                        campaign.campaignID, show(campaign.firstSendTime),
                        campaign.responseCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                        campaign.campaignID == last?.campaignID && campaign.hasFirstSendTime ? "last" : "",
                    ]
                })
            print("\nTAGS (has tag TAG)")
            printTable(["TAG", "USERS"], contents.tags.map { [shortID($0.name), String($0.userCount)] })
        }

        /// One JSON object with the four lists (proto field names).
        static func printJSON(_ contents: Contents) throws {
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            func list<Message: SwiftProtobuf.Message>(_ messages: [Message]) throws -> Any {
                try JSONSerialization.jsonObject(
                    with: Data(("[" + messages.map { try $0.jsonString(options: options) }.joined(separator: ",") + "]").utf8))
            }
            let object: [String: Any] = [
                "event_types": try list(contents.events), "attributes": try list(contents.attributes),
                "campaigns": try list(contents.campaigns), "tags": try list(contents.tags),
            ]
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: pretty, as: UTF8.self))
        }
    }
}
