import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// How `MembershipService` maps between messages and domain values.
extension MembershipService {
    static func proto(_ membership: SegmentMembership, tenant: TenantID) -> Segmentd_V1_MembershipResult {
        .with {
            $0.segment = "tenants/\(tenant)/segments/\(membership.segmentID)"
            $0.member = membership.member
            if let entered = membership.enteredAt { $0.enterTime = .init(date: entered) }
        }
    }
}
