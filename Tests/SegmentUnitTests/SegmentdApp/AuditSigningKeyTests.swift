import Crypto
import Foundation
import SegmentDomain
import SegmentdApp
import Testing

@Suite("The audit checkpoint signing key: created private at first start, reused after, refused when others can read it")
struct AuditSigningKeyTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sgdkey-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func mode(_ path: String) throws -> Int? {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test("the first start creates the key 0600 (in a 0700 directory) and its public half beside it; later starts read the same key")
    func createdThenReused() throws {
        let root = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/audit/checkpoint-signing.key"
        let key = try AuditSigningKey.loadOrCreate(at: path)
        #expect(try Self.mode(path) == 0o600)
        #expect(try Self.mode(root + "/audit") == 0o700)
        let publicPath = AuditSigningKey.publicKeyPath(for: path)
        #expect(publicPath == root + "/audit/checkpoint-signing.pub")
        let published = try AuditCheckpoint.publicKey(base64: try String(contentsOfFile: publicPath, encoding: .utf8))
        #expect(published.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(try AuditSigningKey.loadOrCreate(at: path).rawRepresentation == key.rawRepresentation)
    }

    @Test("a key file group or others can read, or one that is not a key, stops the start with the reason")
    func refusesUnsafeOrBrokenFiles() throws {
        let root = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/checkpoint-signing.key"
        _ = try AuditSigningKey.loadOrCreate(at: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        do {
            _ = try AuditSigningKey.loadOrCreate(at: path)
            Issue.record("a world-readable key was accepted")
        } catch let error as DomainError {
            #expect(error.code == .misconfigured)
            #expect(error.message.contains("chmod 600"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(throws: DomainError.self) { try AuditSigningKey.loadOrCreate(at: path) }
    }
}
