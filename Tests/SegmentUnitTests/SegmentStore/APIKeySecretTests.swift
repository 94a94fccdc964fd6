import SegmentDomain
import Testing

@testable import SegmentStore

@Suite("API key format")
struct APIKeySecretTests {
    @Test("a generated key parses back, has the recognisable prefix and a 32-byte hash")
    func roundTrip() throws {
        let key = APIKeySecret.generate()
        #expect(key.plaintext.hasPrefix("sgd_live_"))
        #expect(key.plaintext.count == 9 + 32 + 6)
        let parsed = try #require(APIKeySecret(parsing: key.plaintext))
        #expect(parsed == key)
        #expect(key.hash.count == 32)
        #expect(key.displayPrefix == String(key.plaintext.prefix(15)))
    }

    @Test("keys are random")
    func randomness() {
        let keys = Set((0..<200).map { _ in APIKeySecret.generate().plaintext })
        #expect(keys.count == 200)
    }

    @Test("a mistyped, truncated or foreign key is rejected by its shape or checksum")
    func checksumRejectsTypos() {
        let key = APIKeySecret.generate().plaintext
        var chars = Array(key)
        let index = 20
        chars[index] = chars[index] == "a" ? "b" : "a"
        #expect(APIKeySecret(parsing: String(chars)) == nil)
        #expect(APIKeySecret(parsing: String(key.dropLast())) == nil)
        #expect(APIKeySecret(parsing: "sk_live_" + key.dropFirst(9)) == nil)
        #expect(APIKeySecret(parsing: key + "x") == nil)
        #expect(APIKeySecret(parsing: "") == nil)
    }

    @Test("constant-time comparison compares")
    func constantTimeEqual() {
        #expect(APIKeySecret.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!APIKeySecret.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!APIKeySecret.constantTimeEqual([1, 2, 3], [1, 2]))
    }

    @Test("tenant ids: lowercase letters, digits and dashes, starting with a letter")
    func tenantIDs() {
        for valid in ["acme", "shop-eu", "a1", String(repeating: "a", count: 40)] {
            #expect(TenantID(valid) != nil, "\(valid)")
        }
        for invalid in ["", "a", "Acme", "1acme", "acme-", "ac me", "ac_me", String(repeating: "a", count: 41), "acmé"] {
            #expect(TenantID(invalid) == nil, "\(invalid)")
        }
    }
}
