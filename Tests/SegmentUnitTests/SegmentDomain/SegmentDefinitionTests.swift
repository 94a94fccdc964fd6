import Foundation
import Testing

@testable import SegmentDomain

@Suite("Segment definitions: real_time in revisions, changed fields and validation")
struct SegmentDefinitionTests {
    static func ruleBased(realTime: Bool) -> SegmentDefinition {
        SegmentDefinition(
            displayName: "VIPs", description: "", ruleText: "has tag vip", schedule: SegmentSchedule(cadence: .manual), realTime: realTime)
    }

    @Test("real_time round-trips through a revision's JSON; a revision saved before it existed reads as not real-time")
    func revisionJSON() throws {
        let definition = Self.ruleBased(realTime: true)
        #expect(definition.jsonText.contains(#""real_time":true"#))
        #expect(try JSONDecoder().decode(SegmentDefinition.self, from: Data(definition.jsonText.utf8)) == definition)

        var legacy = try #require(try JSONSerialization.jsonObject(with: Data(definition.jsonText.utf8)) as? [String: Any])
        legacy["real_time"] = nil
        let old = try JSONDecoder().decode(SegmentDefinition.self, from: JSONSerialization.data(withJSONObject: legacy))
        #expect(old == Self.ruleBased(realTime: false))
    }

    @Test("a change of real_time is a changed field like the schedule, not a change of what members are computed from")
    func changedFields() {
        let on = Self.ruleBased(realTime: true)
        let off = Self.ruleBased(realTime: false)
        #expect(on.changedFields(from: off) == ["real_time"])
        #expect(SegmentDefinition.membershipFields.isDisjoint(with: on.changedFields(from: off)))
        #expect(on.changedFields(from: on).isEmpty)
        #expect(SegmentField(rawValue: "real_time") == .realTime)
    }

    @Test("only a rule-based segment may be real-time: others are INVALID_ARGUMENT on segment.real_time")
    func validation() throws {
        try Self.ruleBased(realTime: true).validate(kind: .ruleBased)
        var connector = SegmentDefinition(
            displayName: "CRM", description: "", ruleText: nil, schedule: SegmentSchedule(cadence: .manual),
            connector: ConnectorSettings(source: .push))
        try connector.validate(kind: .connector)
        connector.realTime = true
        #expect {
            try connector.validate(kind: .connector)
        } throws: { error in
            guard let error = error as? DomainError else { return false }
            return error.code == .invalidArgument && error.field == "segment.real_time" && error.violations.map(\.field) == ["segment.real_time"]
        }
        let predictive = SegmentDefinition(
            displayName: "Likely", description: "", ruleText: nil, schedule: SegmentSchedule(cadence: .manual),
            predictive: PredictiveSettings(goal: .convert, event: "purchase"), realTime: true)
        #expect(throws: DomainError.self) { try predictive.validate(kind: .predictive) }
    }
}
