/// The type of an attribute or event property, as the tenant's catalog records
/// it: inferred on first sight, then enforced at ingest and read by rules.
public enum ValueType: String, Sendable, Equatable, CaseIterable {
    case string, number, bool, timestamp
    case stringList = "string_list"
}
