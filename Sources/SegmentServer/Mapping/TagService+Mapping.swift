import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// How `TagService` maps between messages and domain values.
extension TagService {
    static func proto(_ tag: TagRecord) -> Segmentd_V1_Tag {
        .with {
            $0.name = tag.name
            $0.displayName = tag.displayName
            $0.description_p = tag.description
            $0.userCount = tag.userCount
            $0.createTime = .init(date: tag.createdAt)
            $0.etag = String(tag.etag)
        }
    }
}
