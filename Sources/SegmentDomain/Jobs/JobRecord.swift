import Foundation

/// Job states (docs/jobs.md draws them):
/// queued → running → succeeded | failed | cancelled; running → retrying → running.
public enum JobState: String, Sendable, CaseIterable {
    case queued, running, retrying, succeeded, failed, cancelled

    /// No further change will happen.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// What a running job has done so far.
public struct JobProgress: Sendable, Equatable, Codable {
    public var done: Int64
    public var total: Int64
    public var stage: String
    public init(done: Int64 = 0, total: Int64 = 0, stage: String = "") {
        self.done = done
        self.total = total
        self.stage = stage
    }
}

/// One failed attempt.
public struct JobError: Sendable, Equatable, Codable {
    public var attempt: Int
    public var code: String
    public var message: String
    public var time: Date

    package init(attempt: Int, code: String, message: String, time: Date) {
        self.attempt = attempt
        self.code = code
        self.message = message
        self.time = time
    }
}

/// A job as stored: the unit of work behind an operation.
public struct JobRecord: Sendable, Equatable {
    public let tenantID: TenantID
    public let jobID: Int64
    public let kind: JobKind
    /// The resource the job works on (`tenants/acme/segments/buyers`).
    public let target: String
    public let args: JobArguments
    public let state: JobState
    public let attempt: Int
    public let maxAttempts: Int
    public let runAt: Date
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
    public let cancelRequested: Bool
    public let progress: JobProgress
    /// What the job produced, once it succeeded.
    public let result: JobResult?
    public let errors: [JobError]
    public let creator: String
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?

    /// `tenants/{tenant}/operations/{id}`.
    public var name: String { "tenants/\(tenantID)/operations/\(jobID)" }

    /// The id of the segment the job works on (every kind targets a segment).
    public var segmentID: String { ResourceName.segment(target)?.segment ?? "" }

    package init(
        tenantID: TenantID, jobID: Int64, kind: JobKind, target: String, args: JobArguments, state: JobState, attempt: Int, maxAttempts: Int,
        runAt: Date, leaseOwner: String?, leaseExpiresAt: Date?, cancelRequested: Bool, progress: JobProgress, result: JobResult?, errors: [JobError],
        creator: String, createdAt: Date, startedAt: Date?, finishedAt: Date?
    ) {
        self.tenantID = tenantID
        self.jobID = jobID
        self.kind = kind
        self.target = target
        self.args = args
        self.state = state
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.cancelRequested = cancelRequested
        self.progress = progress
        self.result = result
        self.errors = errors
        self.creator = creator
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}
