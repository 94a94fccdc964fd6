import Foundation

/// Which addresses a PULL connector may connect to. A pull runs inside the
/// operator's network with segmentd's reach, so by default it may only reach
/// public addresses: loopback, private (RFC 1918), shared (CGNAT), link-local
/// (cloud metadata at 169.254.169.254 and fd00:ec2::254), unique-local,
/// multicast, reserved and documentation blocks are refused, including their
/// IPv4-mapped and other IPv6 forms that carry an IPv4 address. The operator
/// lists networks to allow anyway (on-premise sources) in `pull_allowed_networks`.
public struct PullAddressPolicy: Sendable, Equatable {
    /// Networks allowed even when they are in a refused block; empty by default.
    public var allowedNetworks: [IPNetwork]

    public init(allowedNetworks: [IPNetwork] = []) {
        self.allowedNetworks = allowedNetworks
    }

    /// The blocks no pull reaches unless allowed.
    public static let refusedNetworks: [IPNetwork] = [
        // IPv4: this network, private, shared address space (CGNAT), loopback, link-local,
        // IETF protocol assignments, documentation, 6to4 relay, benchmarking, multicast, reserved, broadcast.
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4",
        // IPv6: unspecified, loopback, discard, Teredo, documentation, unique-local (incl. fd00:ec2::254),
        // site-local, link-local, multicast. Forms carrying an IPv4 address are checked as that address.
        "::/128", "::1/128", "100::/64", "2001::/32", "2001:db8::/32", "fc00::/7", "fec0::/10", "fe80::/10", "ff00::/8",
    ].map { IPNetwork($0)! }

    /// Why an address is refused, or nil when a pull may connect to it.
    public func refusal(of address: IPAddress) -> String? {
        let forms = [address] + (address.embeddedIPv4.map { [$0] } ?? [])
        if forms.contains(where: { form in allowedNetworks.contains { $0.contains(form) } }) { return nil }
        for form in forms {
            if let block = Self.refusedNetworks.first(where: { $0.contains(form) }) {
                return "\(address) is in \(block), a non-public network"
            }
        }
        return nil
    }

    /// Reads the setting's form: comma-separated networks in CIDR form (or single addresses).
    public static func allowing(_ list: String) throws(DomainError) -> PullAddressPolicy {
        var networks: [IPNetwork] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let network = IPNetwork(item) else {
                throw DomainError.invalid("pull_allowed_networks", "'\(item)' is not a network in CIDR form (such as 10.20.0.0/16 or fd12::/64)")
            }
            networks.append(network)
        }
        return PullAddressPolicy(allowedNetworks: networks)
    }
}
