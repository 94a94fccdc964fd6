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

    static func proto(_ change: LoggedChange, tenant: TenantID) -> Segmentd_V1_SegmentChange {
        .with {
            $0.position = change.position
            $0.segment = ResourceName.segmentName(tenant, change.segmentID)
            $0.userID = change.userID ?? ""
            $0.kind = change.entered ? .entered : .exited
            $0.effectiveTime = .init(date: change.effectiveAt)
            $0.cause = proto(change.cause)
            if let job = change.jobID { $0.operation = "tenants/\(tenant)/operations/\(job)" }
        }
    }

    static func proto(_ cause: MembershipChangeCause) -> Segmentd_V1_MembershipChangeCause {
        switch cause {
        case .refresh: .refresh
        case .realtime: .realTime
        case .sync: .sync
        case .score: .score
        case .deletion: .deletion
        }
    }

    /// Where a watch begins, from the request's oneof (unset: now).
    static func start(_ request: Segmentd_V1_WatchSegmentChangesRequest) -> ChangeWatch.Start {
        switch request.start {
        case .afterPosition(let position): .after(position)
        case .startTime(let time): .time(time.date)
        case nil: .now
        }
    }
}
