import SegmentDomain
import SegmentEngine

/// A resolver that answers chosen addresses for made-up names (a public-looking
/// host whose DNS answers a loopback address) and the system's answer otherwise.
public struct FixedHostResolver: HostResolver {
    let answers: [String: [IPAddress]]

    public init(_ answers: [String: [String]]) {
        self.answers = answers.mapValues { $0.map { IPAddress($0)! } }
    }

    public func addresses(of host: String) async throws -> [IPAddress] {
        if let fixed = answers[host] { return fixed }
        return try await SystemHostResolver().addresses(of: host)
    }
}
