import Crypto
import Foundation
import SegmentDomain

/// The Ed25519 key that signs audit checkpoints: a file segmentd holds and the
/// database does not (by default `<home>/audit/checkpoint-signing.key`).
///
/// The file holds the base64 of the key's 32 bytes, readable by its owner only
/// (0600): segmentd creates it so at first start and refuses one that group or
/// others can read. The public half is written beside it (`….pub`, base64) for
/// `segctl audit verify --checkpoints FILE --public-key ….pub`, and is logged at
/// every start.
public enum AuditSigningKey {
    /// The public key's file for the key at `path`: `.key` replaced by `.pub`, or `.pub` appended.
    public static func publicKeyPath(for path: String) -> String {
        path.hasSuffix(".key") ? String(path.dropLast(4)) + ".pub" : path + ".pub"
    }

    /// Reads the key at `path`, or creates it (and its directory, 0700) when there is no file.
    /// Throws `misconfigured` when the file is unreadable, malformed or open to other users.
    public static func loadOrCreate(at path: String) throws -> Curve25519.Signing.PrivateKey {
        if FileManager.default.fileExists(atPath: path) {
            return try load(at: path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let key = Curve25519.Signing.PrivateKey()
        // O_EXCL: two processes starting at once do not overwrite each other's key; the loser reads the winner's.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return try load(at: path) }
            throw DomainError(.misconfigured, "cannot create the audit checkpoint signing key \(path) (errno \(errno))")
        }
        let text = Array((key.rawRepresentation.base64EncodedString() + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == text.count, synced == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw DomainError(.misconfigured, "cannot write the audit checkpoint signing key \(path)")
        }
        try writePublicKey(of: key, for: path)
        return key
    }

    private static func load(at path: String) throws -> Curve25519.Signing.PrivateKey {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue else {
            throw DomainError(.misconfigured, "cannot read the audit checkpoint signing key \(path)")
        }
        guard mode & 0o077 == 0 else {
            throw DomainError(
                .misconfigured,
                "the audit checkpoint signing key \(path) can be read by other users (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DomainError(.misconfigured, "cannot read the audit checkpoint signing key \(path)")
        }
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: data)
        else {
            throw DomainError(.misconfigured, "\(path) is not an audit checkpoint signing key (base64 of 32 bytes)")
        }
        if !FileManager.default.fileExists(atPath: publicKeyPath(for: path)) { try writePublicKey(of: key, for: path) }
        return key
    }

    private static func writePublicKey(of key: Curve25519.Signing.PrivateKey, for path: String) throws {
        let text = key.publicKey.rawRepresentation.base64EncodedString() + "\n"
        guard FileManager.default.createFile(atPath: publicKeyPath(for: path), contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        else {
            throw DomainError(.misconfigured, "cannot write the audit checkpoint public key \(publicKeyPath(for: path))")
        }
    }
}
