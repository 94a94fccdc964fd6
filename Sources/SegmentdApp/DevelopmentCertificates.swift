import Crypto
import Foundation
import SegmentDomain
import SwiftASN1
import X509

/// A development certificate authority and a server certificate signed by it,
/// made at first start when no certificate files are configured.
///
/// The CA's certificate is what clients trust (`segctl` finds it in the data
/// directory); its key stays next to it so later starts can re-issue the server
/// certificate for new names without changing what clients trust.
public struct DevelopmentCertificates: Sendable {
    /// The CA certificate (PEM): give this to clients.
    public let caCertificatePath: String
    /// The server certificate chain (PEM), leaf first.
    public let certificateChainPath: String
    /// The server private key (PEM).
    public let privateKeyPath: String

    /// Loads the certificates in `directory`, making them when missing or when the
    /// server certificate expires within 30 days.
    /// - Parameters:
    ///   - directory: Where the PEM files live (created 0700).
    ///   - hostNames: DNS names for the server certificate (besides `localhost`).
    ///   - ipAddresses: IP addresses for the server certificate (besides loopback).
    public static func ensure(in directory: String, hostNames: [String] = [], ipAddresses: [String] = []) throws -> Self {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        let paths = Self(
            caCertificatePath: directory + "/ca.pem",
            certificateChainPath: directory + "/server.pem",
            privateKeyPath: directory + "/server-key.pem")
        let caKeyPath = directory + "/ca-key.pem"

        let caKey: P256.Signing.PrivateKey
        let caCertificate: Certificate
        if let keyPEM = try? String(contentsOfFile: caKeyPath, encoding: .utf8),
            let certPEM = try? String(contentsOfFile: paths.caCertificatePath, encoding: .utf8),
            let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM),
            let cert = try? Certificate(pemEncoded: certPEM), cert.notValidAfter > Date().addingTimeInterval(30 * 86_400)
        {
            caKey = key
            caCertificate = cert
        } else {
            caKey = P256.Signing.PrivateKey()
            caCertificate = try makeCA(key: caKey)
            try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(try caCertificate.serializeAsPEM().pemString, to: paths.caCertificatePath, mode: 0o644)
            try? fileManager.removeItem(atPath: paths.certificateChainPath)
        }

        let wantedDNS = Set(["localhost"] + hostNames)
        let wantedIPs = Set(["127.0.0.1", "::1"] + ipAddresses)
        if let certPEM = try? String(contentsOfFile: paths.certificateChainPath, encoding: .utf8),
            let cert = try? Certificate(pemEncoded: certPEM),
            fileManager.fileExists(atPath: paths.privateKeyPath),
            cert.issuer == caCertificate.subject,
            cert.notValidAfter > Date().addingTimeInterval(30 * 86_400),
            Self.names(of: cert) == (wantedDNS, wantedIPs)
        {
            return paths
        }
        let serverKey = P256.Signing.PrivateKey()
        let serverCertificate = try makeServerCertificate(
            key: serverKey, caKey: caKey, ca: caCertificate, dnsNames: wantedDNS.sorted(), ipAddresses: wantedIPs.sorted())
        try write(serverKey.pemRepresentation, to: paths.privateKeyPath, mode: 0o600)
        try write(try serverCertificate.serializeAsPEM().pemString, to: paths.certificateChainPath, mode: 0o644)
        return paths
    }

    static func makeCA(key: P256.Signing.PrivateKey) throws -> Certificate {
        let name = try DistinguishedName {
            OrganizationName("Segmentd development")
            CommonName("Segmentd development CA")
        }
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(5 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
    }

    static func makeServerCertificate(
        key: P256.Signing.PrivateKey, caKey: P256.Signing.PrivateKey, ca: Certificate, dnsNames: [String],
        ipAddresses: [String]
    ) throws -> Certificate {
        let subject = try DistinguishedName {
            OrganizationName("Segmentd development")
            CommonName("segmentd")
        }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for ip in ipAddresses {
            if let bytes = ipBytes(ip) { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))) }
        }
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: ca.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try ca.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
    }

    static func names(of certificate: Certificate) -> (Set<String>, Set<String>) {
        var dns = Set<String>()
        var ips = Set<String>()
        let alternativeNames: SubjectAlternativeNames? = try? certificate.extensions.subjectAlternativeNames
        for name in alternativeNames.map(Array.init) ?? [] {
            switch name {
            case .dnsName(let value): dns.insert(value)
            case .ipAddress(let octets): ips.insert(ipString(Array(octets.bytes)))
            default: break
            }
        }
        return (dns, ips)
    }

    /// The bytes of an IPv4 or IPv6 literal; nil for anything else (a host name).
    public static func ipBytes(_ string: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, string, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func ipString(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    static func write(_ contents: String, to path: String, mode: Int) throws {
        let fileManager = FileManager.default
        let temporary = path + ".tmp"
        try? fileManager.removeItem(atPath: temporary)
        guard fileManager.createFile(atPath: temporary, contents: Data(contents.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        if fileManager.fileExists(atPath: path) { try fileManager.removeItem(atPath: path) }
        try fileManager.moveItem(atPath: temporary, toPath: path)
    }
}
