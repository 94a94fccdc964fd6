import Foundation
import GRPCCore
import SegmentDomain
import SegmentEngine
import SegmentdAPI

/// How `OperationService` maps between messages and domain values.
extension OperationService {
    static let states: [JobState: Segmentd_V1_OperationState] = [
        .queued: .queued, .running: .running, .retrying: .retrying, .succeeded: .succeeded, .failed: .failed, .cancelled: .cancelled,
    ]

    static func proto(_ kind: JobKind) -> Segmentd_V1_OperationKind {
        switch kind {
        case .refresh: .refresh
        case .export: .export
        case .sync: .sync
        case .train: .train
        }
    }

    static func proto(_ job: JobRecord) -> Segmentd_V1_Operation {
        .with {
            $0.name = job.name
            $0.kind = proto(job.kind)
            $0.state = states[job.state] ?? .unspecified
            $0.target = job.target
            $0.progress = .with {
                $0.done = job.progress.done
                $0.total = job.progress.total
                $0.stage = job.progress.stage
            }
            $0.attempt = Int32(job.attempt)
            $0.maxAttempts = Int32(job.maxAttempts)
            $0.createTime = .init(date: job.createdAt)
            $0.runTime = .init(date: job.runAt)
            if let started = job.startedAt { $0.startTime = .init(date: started) }
            if let finished = job.finishedAt { $0.endTime = .init(date: finished) }
            if let error = job.errors.last, job.state != .succeeded {
                $0.error = .with {
                    $0.code = error.code
                    $0.message = error.message
                }
            }
            $0.creator = job.creator
            $0.done = job.state.isFinal
            switch job.result {
            case .export(let result)?:
                $0.export = .with {
                    $0.export = result.export
                    $0.rows = result.rows
                    $0.bytes = result.bytes
                    $0.sha256 = result.sha256
                    $0.format = result.format
                    $0.expired = result.expired ?? ""
                }
            case .refresh(let result)?:
                $0.refresh = .with {
                    $0.size = result.size
                    $0.entered = result.entered
                    $0.exited = result.exited
                    $0.durationMs = result.durationMilliseconds
                    $0.evaluatedBy = result.path ?? ""
                    if let instant = result.evaluatedAt { $0.evaluatedAt = .init(date: Date(timeIntervalSince1970: instant)) }
                }
            case .sync(let result)?:
                if let sync = result.sync {
                    $0.sync = .with {
                        $0.connectorCount = sync.connectorCount
                        $0.matchedCount = sync.matchedCount
                        $0.unmatchedCount = sync.unmatchedCount
                        $0.unmatchedSample = sync.unmatchedSample
                        $0.size = sync.size
                        $0.entered = sync.entered
                        $0.exited = sync.exited
                        $0.notModified = sync.notModified
                    }
                }
            case .train(let result)?:
                // The card's headline figures; GetModelCard has the whole card.
                $0.training = .with {
                    $0.name = result.model
                    $0.holdoutAuc = result.holdoutAUC
                    $0.trainingUsers = result.trainingUsers
                    $0.scoredUsers = result.scoredUsers
                    $0.algorithm = result.algorithm
                }
            case nil:
                break
            }
        }
    }
}
