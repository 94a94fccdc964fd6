extension Rule {
    /// The event types the rule's behavior conditions read: a user whose only new data
    /// is events of other types keeps the rule's answer (time aside), so real-time
    /// segments re-evaluate a touched user only in the segments that read what arrived.
    public var eventNames: Set<String> {
        switch self {
        case .all(let children), .any(let children): children.reduce(into: Set<String>()) { $0.formUnion($1.eventNames) }
        case .not(let child): child.eventNames
        case .behavior(let condition): [condition.event]
        case .attribute, .response, .tag, .location, .segment: []
        }
    }
}
