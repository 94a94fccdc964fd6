import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentRules
import SegmentdAPI
import SwiftProtobuf

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
            $0.profile.attributes = user.attributes.mapValues(Segmentd_V1_Value.init)
            if let location = user.lastLocation {
                $0.profile.lastLocation = .with {
                    $0.latitude = location.latitude
                    $0.longitude = location.longitude
                }
            }
            if let updated = user.profileUpdated { $0.profile.updateTime = .init(date: updated) }
            $0.recentEvents = user.recentEvents.map { event in
                .with {
                    $0.userID = user.userID
                    $0.name = event.name
                    $0.time = .init(date: event.time)
                    $0.messageID = event.messageID
                    $0.properties = event.properties.mapValues(Segmentd_V1_Value.init)
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
}
