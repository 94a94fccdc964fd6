import Foundation
import SegmentDomain
import SegmentdAPI
import SwiftProtobuf

/// Maps connector and predictive settings between the contract and the store.
enum SegmentKindMapping {
    static let sources: [ConnectorSettings.Source: Segmentd_V1_ConnectorConfig.Source] = [.push: .push, .file: .file, .pull: .pull]
    static let goals: [PredictiveSettings.Goal: Segmentd_V1_PredictiveConfig.Goal] = [.convert: .convert, .churn: .churn]
    static let buckets: [PredictiveSettings.Bucket: Segmentd_V1_PredictiveConfig.Bucket] = [.high: .high, .medium: .medium, .low: .low]

    /// The connector settings of a request, and its auth header (input only): the header sent; empty
    /// (clear it) when `auth_header_set` is sent with no header; nil (keep the stored one) otherwise.
    static func connector(_ proto: Segmentd_V1_ConnectorConfig) throws -> (ConnectorSettings, authHeader: String?) {
        let source: ConnectorSettings.Source =
            switch proto.source {
            case .unspecified, .push: .push
            case .file: .file
            case .pull: .pull
            case .UNRECOGNIZED: throw DomainError.invalid("segment.connector.source", "PUSH, FILE or PULL")
            }
        guard source == .pull else {
            guard !proto.hasPull else { throw DomainError.invalid("segment.connector.pull", "only a PULL connector has a URL") }
            return (ConnectorSettings(source: source), nil)
        }
        guard proto.hasPull else { throw DomainError.invalid("segment.connector.pull", "a PULL connector needs pull.url") }
        let pull = proto.pull
        let timeout = pull.hasTimeout ? Double(pull.timeout.seconds) + Double(pull.timeout.nanos) / 1e9 : PullSettings.defaultTimeoutSeconds
        let settings = try PullSettings(
            url: pull.url, format: pull.format, timeoutSeconds: timeout, maxBytes: pull.maxBytes == 0 ? PullSettings.defaultMaxBytes : pull.maxBytes
        ).validated()
        let header: String? = !pull.authHeader.isEmpty ? pull.authHeader : pull.authHeaderSet ? "" : nil
        return (ConnectorSettings(source: .pull, pull: settings), header)
    }

    static func predictive(_ proto: Segmentd_V1_PredictiveConfig) throws -> PredictiveSettings {
        let goal: PredictiveSettings.Goal =
            switch proto.goal {
            case .convert: .convert
            case .churn: .churn
            case .unspecified, .UNRECOGNIZED: throw DomainError.invalid("segment.predictive.goal", "CONVERT or CHURN")
            }
        let bucket: PredictiveSettings.Bucket =
            switch proto.bucket {
            case .unspecified, .high: .high
            case .medium: .medium
            case .low: .low
            case .UNRECOGNIZED: throw DomainError.invalid("segment.predictive.bucket", "HIGH, MEDIUM or LOW")
            }
        return try PredictiveSettings(
            goal: goal, event: proto.event, horizonDays: proto.horizonDays == 0 ? PredictiveSettings.defaultHorizonDays : Int(proto.horizonDays),
            bucket: bucket
        ).validated()
    }

    static func proto(_ settings: ConnectorSettings, authHeaderSet: Bool) -> Segmentd_V1_ConnectorConfig {
        .with {
            $0.source = sources[settings.source] ?? .push
            if let pull = settings.pull {
                $0.pull = .with {
                    $0.url = pull.redactedURL
                    $0.format = pull.format
                    $0.authHeaderSet = authHeaderSet
                    $0.timeout = .init(
                        seconds: Int64(pull.timeoutSeconds), nanos: Int32((pull.timeoutSeconds - pull.timeoutSeconds.rounded(.down)) * 1e9))
                    $0.maxBytes = pull.maxBytes
                }
            }
        }
    }

    static func proto(_ settings: PredictiveSettings) -> Segmentd_V1_PredictiveConfig {
        .with {
            $0.goal = goals[settings.goal] ?? .convert
            $0.event = settings.event
            $0.horizonDays = Int32(settings.horizonDays)
            $0.bucket = buckets[settings.bucket] ?? .high
        }
    }

    static func proto(_ result: ConnectorSyncResult) -> Segmentd_V1_SyncResult {
        .with {
            $0.connectorCount = result.connectorCount
            $0.matchedCount = result.matchedCount
            $0.unmatchedCount = result.unmatchedCount
            $0.unmatchedSample = result.unmatchedSample
            $0.size = result.size
            $0.entered = result.entered
            $0.exited = result.exited
            $0.notModified = result.notModified
        }
    }
}
