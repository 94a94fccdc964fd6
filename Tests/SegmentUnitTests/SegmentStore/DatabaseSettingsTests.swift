import SegmentDomain
import Testing

@testable import SegmentStore

@Suite("Database URLs")
struct DatabaseSettingsTests {
    @Test("a TCP URL with credentials and sslmode")
    func tcp() throws {
        let settings = try DatabaseSettings(url: "postgres://app:s%40cret@db.example:6432/segmentd?sslmode=require")
        #expect(settings.host == "db.example")
        #expect(settings.port == 6432)
        #expect(settings.username == "app")
        #expect(settings.password == "s@cret")
        #expect(settings.database == "segmentd")
        #expect(settings.tls == .require)
    }

    @Test("a Unix socket URL")
    func socket() throws {
        let settings = try DatabaseSettings(url: "postgresql://segmentd_app@/segmentd?host=/run/sgd")
        #expect(settings.host == nil)
        #expect(settings.socketDirectory == "/run/sgd")
        #expect(settings.tls == .disable)
    }

    @Test("bad URLs say what is missing, and never echo a password")
    func invalid() {
        #expect(throws: DomainError.self) { try DatabaseSettings(url: "mysql://u@h/db") }
        #expect(throws: DomainError.self) { try DatabaseSettings(url: "postgres://h/db") }
        #expect(throws: DomainError.self) { try DatabaseSettings(url: "postgres://u@h/") }
        #expect(throws: DomainError.self) { try DatabaseSettings(url: "postgres://u@h/db?sslmode=sometimes") }
        #expect(DatabaseSettings.redacted("postgres://u:hunter2@h/db").contains("hunter2") == false)
    }
}
