import Foundation
import Testing

@testable import SegmentServer

@Suite("Request ids made for calls that send none")
struct RequestIDTests {
    @Test("a lowercase UUID, different every time")
    func format() throws {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = AccessInterceptor.newRequestID()
            let parsed = try #require(UUID(uuidString: id), "\(id)")
            #expect(id == parsed.uuidString.lowercased())
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }
}
