import Foundation
import SegmentRules

/// Checks a batch against the limits and naming rules before anything is
/// written, collecting every violation (not just the first).
package struct IngestValidator {
    package let limits: IngestLimits
    package let now: Date

    package init(limits: IngestLimits, now: Date) {
        self.limits = limits
        self.now = now
    }

    package func checkBatchSize(_ count: Int) throws {
        guard count > 0 else { throw BatchRejected([RecordViolation(index: -1, field: "records", reason: "the batch is empty")]) }
        guard count <= limits.recordsPerBatch else {
            throw BatchRejected(
                [RecordViolation(index: -1, field: "records", reason: "\(count) records; at most \(limits.recordsPerBatch) per batch")],
                overLimit: true)
        }
    }

    package func userID(_ id: String, _ index: Int, into violations: inout [RecordViolation]) {
        if id.isEmpty || id.count > limits.userIDLength {
            violations.append(.init(index: index, field: "user_id", reason: "must be 1 to \(limits.userIDLength) characters"))
        }
    }

    package func time(_ time: Date?, _ index: Int, into violations: inout [RecordViolation]) {
        guard let time else { return }
        if time.timeIntervalSince(now) > limits.futureSkew {
            violations.append(.init(index: index, field: "time", reason: "more than \(Int(limits.futureSkew)) s in the future"))
        }
        if now.timeIntervalSince(time) > limits.pastLimit {
            violations.append(.init(index: index, field: "time", reason: "more than 5 years in the past"))
        }
    }

    package func values(
        _ values: [String: RuleValue], field: String, max: Int, _ index: Int, into violations: inout [RecordViolation]
    ) {
        if values.count > max {
            violations.append(.init(index: index, field: field, reason: "\(values.count) entries; at most \(max)"))
        }
        for (key, value) in values {
            guard IngestLimits.isValidName(key) else {
                violations.append(.init(index: index, field: "\(field).\(key)", reason: "names are 1-64 of a-z, 0-9 and _, starting with a letter"))
                continue
            }
            switch value {
            case .string(let text) where text.count > limits.stringValueLength:
                violations.append(.init(index: index, field: "\(field).\(key)", reason: "string longer than \(limits.stringValueLength) characters"))
            case .number(let number) where !number.isFinite:
                violations.append(.init(index: index, field: "\(field).\(key)", reason: "numbers must be finite"))
            case .list(let items) where items.count > limits.listItems || items.contains { $0.count > limits.stringValueLength }:
                violations.append(
                    .init(
                        index: index, field: "\(field).\(key)",
                        reason: "lists hold at most \(limits.listItems) strings of at most \(limits.stringValueLength) characters"))
            default:
                break
            }
        }
    }

    package func events(_ events: [EventInput]) throws {
        try checkBatchSize(events.count)
        var violations: [RecordViolation] = []
        for (index, event) in events.enumerated() {
            userID(event.userID, index, into: &violations)
            if !IngestLimits.isValidName(event.name) {
                violations.append(.init(index: index, field: "name", reason: "event names are 1-64 of a-z, 0-9 and _, starting with a letter"))
            }
            time(event.time, index, into: &violations)
            if let id = event.messageID, id.isEmpty || id.count > limits.idLength {
                violations.append(.init(index: index, field: "message_id", reason: "must be 1 to \(limits.idLength) characters"))
            }
            values(event.properties, field: "properties", max: limits.propertiesPerEvent, index, into: &violations)
        }
        if !violations.isEmpty { throw BatchRejected(violations) }
    }

    package func profiles(_ profiles: [ProfileInput], removing: [String]) throws {
        try checkBatchSize(profiles.count)
        var violations: [RecordViolation] = []
        for (index, profile) in profiles.enumerated() {
            userID(profile.userID, index, into: &violations)
            values(profile.attributes, field: "attributes", max: limits.attributesPerProfile, index, into: &violations)
            for (key, type) in IngestLimits.reservedAttributes {
                guard let value = profile.attributes[key] else { continue }
                guard value.type == type, case .string(let text) = value else {
                    violations.append(.init(index: index, field: "attributes.\(key)", reason: "reserved attribute; must be a string"))
                    continue
                }
                if key == "country", !(text.count == 2 && text.allSatisfy { $0.isASCII && $0.isUppercase }) {
                    violations.append(.init(index: index, field: "attributes.country", reason: "an ISO 3166-1 alpha-2 code such as TR"))
                }
                if key == "time_zone", TimeZone(identifier: text) == nil {
                    violations.append(.init(index: index, field: "attributes.time_zone", reason: "'\(text)' is not an IANA time zone"))
                }
            }
            if let location = profile.lastLocation { point(location.latitude, location.longitude, index, into: &violations) }
        }
        for (index, key) in removing.enumerated() where !IngestLimits.isValidName(key) {
            violations.append(.init(index: index, field: "remove_attributes", reason: "'\(key)' is not an attribute name"))
        }
        if !violations.isEmpty { throw BatchRejected(violations) }
    }

    package func point(_ latitude: Double, _ longitude: Double, _ index: Int, into violations: inout [RecordViolation]) {
        if !(latitude.isFinite && (-90...90).contains(latitude)) {
            violations.append(.init(index: index, field: "latitude", reason: "must be between -90 and 90"))
        }
        if !(longitude.isFinite && (-180...180).contains(longitude)) {
            violations.append(.init(index: index, field: "longitude", reason: "must be between -180 and 180"))
        }
    }

    package func responses(_ responses: [ResponseInput]) throws {
        try checkBatchSize(responses.count)
        var violations: [RecordViolation] = []
        for (index, response) in responses.enumerated() {
            userID(response.userID, index, into: &violations)
            if response.campaignID.isEmpty || response.campaignID.count > limits.idLength {
                violations.append(.init(index: index, field: "campaign_id", reason: "must be 1 to \(limits.idLength) characters"))
            }
            time(response.time, index, into: &violations)
        }
        if !violations.isEmpty { throw BatchRejected(violations) }
    }

    package func locations(_ locations: [LocationInput]) throws {
        try checkBatchSize(locations.count)
        var violations: [RecordViolation] = []
        for (index, location) in locations.enumerated() {
            userID(location.userID, index, into: &violations)
            point(location.latitude, location.longitude, index, into: &violations)
            time(location.time, index, into: &violations)
        }
        if !violations.isEmpty { throw BatchRejected(violations) }
    }
}
