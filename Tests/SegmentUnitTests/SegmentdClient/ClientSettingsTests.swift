import Foundation
import SegmentdClient
import Testing

@Suite("segctl connection settings")
struct ClientSettingsTests {
    func home(with file: ClientSettings.File?) throws -> String {
        let path = NSTemporaryDirectory() + "segctl-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try file?.write(path + "/" + ClientSettings.File.fileName)
        return path
    }

    @Test("flags win over the environment, which wins over the data directory's segctl.json")
    func precedence() throws {
        let home = try home(with: .init(address: "127.0.0.1:1111", ca: "/file/ca.pem", apiKey: "file-key"))
        let fromFile = try ClientSettings.resolve(home: home, environment: [:])
        #expect(fromFile == ClientSettings(address: "127.0.0.1:1111", caPath: "/file/ca.pem", apiKey: "file-key"))

        let env = ["SEGMENTD_ADDR": "10.0.0.1:2222", "SEGMENTD_CA": "/env/ca.pem", "SEGMENTD_API_KEY": "env-key"]
        let fromEnv = try ClientSettings.resolve(home: home, environment: env)
        #expect(fromEnv == ClientSettings(address: "10.0.0.1:2222", caPath: "/env/ca.pem", apiKey: "env-key"))

        let fromFlags = try ClientSettings.resolve(
            address: "h:3333", caPath: "/flag/ca.pem", apiKey: "flag-key", home: home, environment: env)
        #expect(fromFlags == ClientSettings(address: "h:3333", caPath: "/flag/ca.pem", apiKey: "flag-key"))
    }

    @Test("SEGMENTD_HOME locates segctl.json; the platform key is taken only when asked")
    func homeFromEnvironment() throws {
        let home = try home(with: .init(address: "127.0.0.1:4444", ca: nil, apiKey: "owner", platformApiKey: "platform"))
        let settings = try ClientSettings.resolve(environment: ["SEGMENTD_HOME": home])
        #expect(settings.address == "127.0.0.1:4444")
        #expect(settings.apiKey == "owner")
        #expect(try ClientSettings.resolve(usePlatformKey: true, environment: ["SEGMENTD_HOME": home]).apiKey == "platform")
    }

    @Test("the client file is readable by its owner only")
    func filePermissions() throws {
        let home = try home(with: .init(address: "a:1", ca: nil, apiKey: "secret"))
        let attributes = try FileManager.default.attributesOfItem(atPath: home + "/segctl.json")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("addresses: host:port, [v6]:port, and clear errors")
    func addresses() throws {
        #expect(try ClientSettings(address: "127.0.0.1:7443", caPath: nil, apiKey: nil).hostAndPort() == ("127.0.0.1", 7443))
        #expect(try ClientSettings(address: "[::1]:9000", caPath: nil, apiKey: nil).hostAndPort() == ("::1", 9000))
        #expect(try ClientSettings(address: "example.com", caPath: nil, apiKey: nil).hostAndPort() == ("example.com", 7443))
        #expect(throws: ClientError.self) { try ClientSettings(address: "h:notaport", caPath: nil, apiKey: nil).hostAndPort() }
    }
}
