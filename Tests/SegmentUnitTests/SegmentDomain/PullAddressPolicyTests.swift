import SegmentDomain
import Testing

@Suite("Pull address policy: which addresses a pull may connect to")
struct PullAddressPolicyTests {
    let policy = PullAddressPolicy()

    @Test(
        "non-public addresses are refused, in every form that reaches them",
        arguments: [
            "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
            "100.127.255.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1",
            "::", "::1", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "fec0::1",
            // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of refused IPv4 addresses.
            "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a00:1::1",
            "[::1]", "fe80::1%eth0",
        ])
    func refused(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(policy.refusal(of: address) != nil, "\(text)")
    }

    @Test("public addresses are allowed", arguments: ["8.8.8.8", "1.1.1.1", "203.0.114.9", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
    func allowed(_ text: String) throws {
        #expect(policy.refusal(of: try #require(IPAddress(text))) == nil, "\(text)")
    }

    @Test("an allowed network lets its addresses through, and only those")
    func allowList() throws {
        let onPremise = try PullAddressPolicy.allowing("10.20.0.0/16, fd12:3456::/32, 127.0.0.1")
        #expect(onPremise.refusal(of: IPAddress("10.20.7.8")!) == nil)
        #expect(onPremise.refusal(of: IPAddress("::ffff:10.20.7.8")!) == nil)
        #expect(onPremise.refusal(of: IPAddress("fd12:3456::9")!) == nil)
        #expect(onPremise.refusal(of: IPAddress("127.0.0.1")!) == nil)
        #expect(onPremise.refusal(of: IPAddress("127.0.0.2")!) != nil)
        #expect(onPremise.refusal(of: IPAddress("10.21.0.1")!) != nil)
        #expect(onPremise.refusal(of: IPAddress("169.254.169.254")!) != nil)
    }

    @Test("the setting rejects what is not a network", arguments: ["10.0.0.0/33", "10.0.0/8", "example.com", "fd00::/129", "1.2.3.4/-1", "::1::2"])
    func invalidSetting(_ text: String) {
        #expect(throws: DomainError.self) { try PullAddressPolicy.allowing(text) }
    }

    @Test("addresses print in their canonical short form")
    func description() {
        #expect(IPAddress("fd00:ec2:0:0:0:0:0:254")?.description == "fd00:ec2::254")
        #expect(IPAddress("0:0:0:0:0:0:0:1")?.description == "::1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("2001:db8:0:1:0:0:0:1")?.description == "2001:db8:0:1::1")
        #expect(IPAddress("1:0:2:3:4:5:6:7")?.description == "1:0:2:3:4:5:6:7")
        #expect(IPAddress("192.0.2.33")?.description == "192.0.2.33")
        #expect(IPAddress("1.2.3") == nil && IPAddress("256.1.1.1") == nil && IPAddress("1:2:3:4:5:6:7:8:9") == nil)
    }

    @Test("a pulled file's unmatched ids are shown only when the file is mostly the tenant's users, and only id-shaped ones")
    func pulledSample() {
        #expect(ConnectorSyncResult.pulledSample(["stranger", "<b>x</b>", "a b"], matched: 5, unmatched: 3) == ["stranger"])
        #expect(ConnectorSyncResult.pulledSample(["root:x:0:0", "stranger"], matched: 1, unmatched: 2).isEmpty)
    }
}
