import GRPCCore
import Logging
import SegmentDomain
import Testing

@testable import SegmentServer

@Suite("Error mapping: one status per domain error; INTERNAL carries the request id")
struct ErrorMappingTests {
    struct Unexpected: Error {}

    @Test("an unexpected error is INTERNAL with the request id in the message and the details, never its own text")
    func internalCarriesRequestID() throws {
        let mapped = try #require(
            ErrorMappingInterceptor.map(Unexpected(), method: "m", requestID: "req-42", logger: Logger(label: "test")) as? APIError)
        #expect(mapped.code == .internalError)
        #expect(mapped.message == "internal error (request id req-42)")
        #expect(mapped.metadata["request_id"] == "req-42")
        #expect(mapped.reason == "INTERNAL")
    }

    @Test("a domain error keeps its code, reason and field; its message is not touched")
    func domainError() throws {
        let error = DomainError.invalid("segment.rule", "no such event")
        let mapped = try #require(ErrorMappingInterceptor.map(error, method: "m", requestID: "r", logger: Logger(label: "test")) as? APIError)
        #expect(mapped.code == .invalidArgument && mapped.reason == "INVALID_FIELD")
        #expect(mapped.fieldViolations.map(\.field) == ["segment.rule"] && mapped.message == "segment.rule: no such event")
        let paused = DomainError.segmentInactive("tenants/a/segments/s", state: "paused", action: "refresh it")
        let pausedMapped = try #require(ErrorMappingInterceptor.map(paused, method: "m", requestID: "r", logger: Logger(label: "test")) as? APIError)
        #expect(pausedMapped.code == .failedPrecondition && pausedMapped.reason == "SEGMENT_PAUSED")
    }
}
