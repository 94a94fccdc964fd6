import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// How `ConnectorService` maps between messages and domain values.
extension ConnectorService {
    static func proto(_ session: ReplaceSessionRecord) -> Segmentd_V1_ReplaceSession {
        .with {
            $0.name = session.name
            $0.syncID = session.syncID
            $0.staged = session.staged
            $0.state = session.state.rawValue
            $0.expireTime = .init(date: session.expiresAt)
        }
    }
}
