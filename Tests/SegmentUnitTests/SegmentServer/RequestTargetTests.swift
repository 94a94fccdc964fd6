import SegmentdAPI
import Testing

@testable import SegmentServer

@Suite("A refused call's target is the request's field 1, or the name of the resource in field 1")
struct RequestTargetTests {
    @Test("a name, a parent, the name inside an update's resource; nothing when field 1 is unset or the value is no message")
    func targets() {
        #expect(RequestTarget.of(Segmentd_V1_GetSegmentRequest.with { $0.name = "tenants/acme/segments/vip" }) == "tenants/acme/segments/vip")
        #expect(RequestTarget.of(Segmentd_V1_ListApiKeysRequest.with { $0.parent = "tenants/acme" }) == "tenants/acme")
        let update = Segmentd_V1_UpdateSegmentRequest.with {
            $0.segment.name = "tenants/acme/segments/vip"
            $0.segment.displayName = "VIP"
            $0.updateMask.paths = ["display_name"]
        }
        #expect(RequestTarget.of(update) == "tenants/acme/segments/vip")
        // Field 1 unset: a later string field is not taken for the target.
        #expect(RequestTarget.of(Segmentd_V1_CreateSegmentRequest.with { $0.segmentID = "vip" }) == "")
        #expect(RequestTarget.of("tenants/acme") == "")
    }

    @Test("a batch of events is not read past field 1, and a long target is cut")
    func bounded() {
        let batch = Segmentd_V1_IngestEventsRequest.with {
            $0.parent = "tenants/acme"
            $0.events = (0..<1000).map { index in .with { $0.userID = "user-\(index)" } }
        }
        #expect(RequestTarget.of(batch) == "tenants/acme")
        let long = String(repeating: "x", count: 10_000)
        #expect(RequestTarget.of(Segmentd_V1_GetSegmentRequest.with { $0.name = long }).count == RequestTarget.maximumLength)
    }
}
