import GRPCCore
import SegmentDomain
import Testing

@testable import SegmentServer

@Suite("RPC metrics label codes by their standard gRPC names")
struct RPCMetricsTests {
    @Test(
        "status codes are labelled PERMISSION_DENIED, not PERMISSIONDENIED",
        arguments: [
            (RPCError.Code.permissionDenied, "PERMISSION_DENIED"), (.resourceExhausted, "RESOURCE_EXHAUSTED"),
            (.failedPrecondition, "FAILED_PRECONDITION"), (.invalidArgument, "INVALID_ARGUMENT"), (.unauthenticated, "UNAUTHENTICATED"),
            (.deadlineExceeded, "DEADLINE_EXCEEDED"), (.notFound, "NOT_FOUND"),
        ])
    func codeNames(code: RPCError.Code, name: String) {
        #expect(RPCMetricsInterceptor.codeName(RPCError(code: code, message: "x")) == name)
        #expect(RPCMetricsInterceptor.codeName(APIError(code, "x", reason: "X")) == name)
    }
}
