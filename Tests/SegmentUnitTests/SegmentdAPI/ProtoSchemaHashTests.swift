import Crypto
import Foundation
import SegmentdAPI
import Testing

@Suite("Generated code matches proto-schema/")
struct ProtoSchemaHashTests {
    /// Recomputes ops/lib/common.sh `proto_schema_hash`: each .proto's relative
    /// path, a newline, its bytes, in byte order of the paths.
    static func currentHash() throws -> String {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("proto-schema")
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var paths: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".proto") { paths.append(path) }
        }
        paths.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var hasher = SHA256()
        for path in paths {
            hasher.update(data: Array((path + "\n").utf8))
            hasher.update(data: try Data(contentsOf: root.appendingPathComponent(path)))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    @Test("the committed generated code was made from the current proto-schema (else run ops/generate-proto)")
    func generatedCodeIsCurrent() throws {
        let hash = try Self.currentHash()
        #expect(!hash.isEmpty)
        #expect(
            hash == ProtoSchemaHash.sha256,
            "proto-schema/ changed after the last generation: run ops/generate-proto and commit the result")
    }
}
