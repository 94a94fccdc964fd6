import Foundation
import GRPCCore
import SegmentdAPI
import SegmentdClient
import SegmentdTestSupport
import SwiftProtobuf
import Testing

/// Every method that takes a segment reference accepts the segment's bare id as
/// well as its name (issue 19, item 11), as the contract says.
@Suite("Segment references: an id or a name, in every method that takes one", .timeLimit(.minutes(5)))
struct SegmentReferenceTests {
    typealias M = Segmentd_V1_MembershipService.Method
    typealias S = Segmentd_V1_SegmentService.Method
    typealias C = Segmentd_V1_ConnectorService.Method
    typealias P = Segmentd_V1_PredictiveService.Method
    typealias R = Segmentd_V1_RuleService.Method

    /// Each method with a request naming `buyers` by `reference`, and the code it must answer
    /// (nil: OK; the connector and training methods refuse a rule-based segment, which shows
    /// the reference was resolved to it).
    static func calls(_ reference: String) throws -> [(String, MethodDescriptor, [UInt8], RPCError.Code?)] {
        [
            (
                "CheckMembership", M.CheckMembership.descriptor,
                try Segmentd_V1_CheckMembershipRequest.with {
                    $0.parent = "tenants/acme"
                    $0.userID = "u0"
                    $0.segments = [reference]
                }.serializedBytes(), nil
            ),
            (
                "BatchCheckMembership", M.BatchCheckMembership.descriptor,
                try Segmentd_V1_BatchCheckMembershipRequest.with {
                    $0.parent = "tenants/acme"
                    $0.userIds = ["u0"]
                    $0.segments = [reference]
                }.serializedBytes(), nil
            ),
            (
                "InspectSegment overlap", S.InspectSegment.descriptor,
                try Segmentd_V1_InspectSegmentRequest.with {
                    $0.name = "tenants/acme/segments/vips"
                    $0.overlapSegment = reference
                }.serializedBytes(), nil
            ),
            (
                "ExplainMembership", R.ExplainMembership.descriptor,
                try Segmentd_V1_ExplainMembershipRequest.with {
                    $0.parent = "tenants/acme"
                    $0.segment = reference
                    $0.userID = "u0"
                }.serializedBytes(), nil
            ),
            (
                "ChangeMembers", C.AddMembers.descriptor,
                try Segmentd_V1_ChangeMembersRequest.with {
                    $0.segment = reference
                    $0.syncID = "s1"
                    $0.userIds = ["u0"]
                }.serializedBytes(), .failedPrecondition
            ),
            ("SyncNow", C.SyncNow.descriptor, try Segmentd_V1_SyncNowRequest.with { $0.segment = reference }.serializedBytes(), .failedPrecondition),
            (
                "TrainModel", P.TrainModel.descriptor, try Segmentd_V1_TrainModelRequest.with { $0.segment = reference }.serializedBytes(),
                .failedPrecondition
            ),
        ]
    }

    @Test("a bare id and a full name give the same answer; a malformed reference is INVALID_ARGUMENT naming both forms")
    func idOrName() async throws {
        try await TestServer.with { server in
            try await server.connect { connection in
                try await MembershipTests.seed(server, connection)
                for reference in ["buyers", "tenants/acme/segments/buyers"] {
                    for (method, descriptor, message, expected) in try Self.calls(reference) {
                        let outcome = try await RawCall.unary(connection, descriptor, message: message, apiKey: server.ownerKey)
                        #expect(outcome.code == expected, "\(method) with '\(reference)': \(outcome)")
                    }
                }
                for (method, descriptor, message, _) in try Self.calls("tenants/acme/buyers") {
                    let outcome = try await RawCall.unary(connection, descriptor, message: message, apiKey: server.ownerKey)
                    #expect(outcome.code == .invalidArgument && outcome.message.contains("segment id or tenants/"), "\(method): \(outcome)")
                }
                let members = try await connection.membership.checkMembership(
                    .with {
                        $0.parent = "tenants/acme"
                        $0.userID = "u0"
                        $0.segments = ["buyers"]
                    }, metadata: connection.metadata)
                #expect(members.results.map(\.segment) == ["tenants/acme/segments/buyers"] && members.results.allSatisfy(\.member))
            }
        }
    }
}
