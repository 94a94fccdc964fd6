import Foundation

/// How a client finds and authenticates to a segmentd server.
///
/// Resolved from, in order: explicit values (flags), the environment
/// (`SEGMENTD_ADDR`, `SEGMENTD_API_KEY`, `SEGMENTD_CA`), then the client file that
/// segmentd writes into its data directory (`$SEGMENTD_HOME/segctl.json`,
/// `./.segmentd` by default), so `segctl` on the server's machine just works.
public struct ClientSettings: Sendable, Equatable {
    /// `host:port` of the server.
    public var address: String
    /// PEM file of the CA to trust; nil trusts the system's roots.
    public var caPath: String?
    /// The API key, if any.
    public var apiKey: String?

    public init(address: String, caPath: String?, apiKey: String?) {
        self.address = address
        self.caPath = caPath
        self.apiKey = apiKey
    }

    /// The client file segmentd writes: address, CA and (after bootstrap) keys.
    public struct File: Codable, Sendable, Equatable {
        /// `host:port` segctl should dial.
        public var address: String
        /// The CA certificate path.
        public var ca: String?
        /// The first tenant.
        public var tenant: String?
        /// The first tenant's owner key (present only on the bootstrapping machine).
        public var apiKey: String?
        /// The platform operator's key.
        public var platformApiKey: String?

        public init(address: String, ca: String?, tenant: String? = nil, apiKey: String? = nil, platformApiKey: String? = nil) {
            self.address = address
            self.ca = ca
            self.tenant = tenant
            self.apiKey = apiKey
            self.platformApiKey = platformApiKey
        }

        enum CodingKeys: String, CodingKey {
            case address, ca, tenant
            case apiKey = "api_key"
            case platformApiKey = "platform_api_key"
        }

        /// The file's name inside the data directory.
        public static let fileName = "segctl.json"

        /// Reads `path`; nil when it does not exist.
        public static func read(_ path: String) throws -> File? {
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }

        /// Writes `path` readable by its owner only (it may hold keys).
        public func write(_ path: String) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(self)
            let temporary = path + ".tmp"
            try? FileManager.default.removeItem(atPath: temporary)
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteNoPermission)
            }
            _ = try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        }
    }

    /// The default data directory: `$SEGMENTD_HOME`, else `./.segmentd`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["SEGMENTD_HOME"], !home.isEmpty { return home }
        return FileManager.default.currentDirectoryPath + "/.segmentd"
    }

    /// Resolves settings from explicit values, the environment and the client file.
    /// - Parameter usePlatformKey: take the platform operator's key from the file.
    public static func resolve(
        address: String? = nil, caPath: String? = nil, apiKey: String? = nil, home: String? = nil,
        usePlatformKey: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ClientSettings {
        let home = home ?? defaultHome(environment: environment)
        let file = try File.read(home + "/" + File.fileName)
        func nonEmpty(_ value: String?) -> String? { (value?.isEmpty ?? true) ? nil : value }
        let resolvedAddress = nonEmpty(address) ?? nonEmpty(environment["SEGMENTD_ADDR"]) ?? file?.address ?? "127.0.0.1:7443"
        let resolvedCA = nonEmpty(caPath) ?? nonEmpty(environment["SEGMENTD_CA"]) ?? file?.ca
        let fileKey = usePlatformKey ? file?.platformApiKey : file?.apiKey
        let resolvedKey = nonEmpty(apiKey) ?? nonEmpty(environment["SEGMENTD_API_KEY"]) ?? fileKey
        return ClientSettings(address: resolvedAddress, caPath: resolvedCA, apiKey: resolvedKey)
    }

    /// Host and port of ``address``; IPv6 literals in brackets (`[::1]:7443`).
    public func hostAndPort() throws -> (host: String, port: Int) {
        var host: Substring
        var portText: Substring
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            host = address[address.index(after: address.startIndex)..<close]
            portText = address[address.index(after: close)...].drop(while: { $0 == ":" })
        } else if let colon = address.lastIndex(of: ":") {
            host = address[..<colon]
            portText = address[address.index(after: colon)...]
        } else {
            host = Substring(address)
            portText = "7443"
        }
        if host.isEmpty { host = "127.0.0.1" }
        if portText.isEmpty { portText = "7443" }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ClientError(.invalidSettings, "invalid server address '\(address)': expected host:port")
        }
        return (String(host), port)
    }
}
