import Foundation
import Testing

@testable import SegmentDomain

@Suite("Audit values: structured values are JSON objects, and every stored form still reads")
struct AuditValueTests {
    @Test("a schedule is an object with its stored form's keys, and compares by content")
    func scheduleObject() throws {
        let daily = SegmentSchedule(cadence: .daily(hour: 3, minute: 5, timeZone: "Europe/Istanbul")).auditValue
        #expect(
            daily
                == .object([
                    "cadence": .string("daily"), "time": .string("03:05"), "zone": .string("Europe/Istanbul"), "after_dependencies": .bool(false),
                ]))
        let fields: AuditFields = ["schedule": SegmentSchedule(cadence: .everyHours(6), afterDependencies: true).auditValue]
        #expect(fields.jsonText == #"{"schedule":{"after_dependencies":true,"cadence":"every_hours","hours":6}}"#)
        #expect(fields.changed(from: ["schedule": SegmentSchedule(cadence: .manual).auditValue]).keys.sorted() == ["schedule"])
        #expect(fields.changed(from: fields).isEmpty)
    }

    @Test("stored JSON decodes to the same values: strings (older schedules), lists, objects, null")
    func decoding() throws {
        let text = #"{"a":"x","b":2,"c":true,"d":["p","q"],"e":{"cadence":"manual"},"f":null,"g":"{\"cadence\":\"manual\"}"}"#
        let decoded = try JSONDecoder().decode(AuditFields.self, from: Data(text.utf8))
        #expect(decoded["d"] == .strings(["p", "q"]))
        #expect(decoded["e"] == .object(["cadence": .string("manual")]))
        #expect(decoded["f"] == .null)
        #expect(decoded["g"] == .string(#"{"cadence":"manual"}"#))
        #expect(decoded.jsonText == text.replacingOccurrences(of: #"\/"#, with: "/"))
    }
}
