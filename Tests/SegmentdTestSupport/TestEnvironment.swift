import Foundation

/// What the test script (ops/test) set up: a PostgreSQL cluster for tests and
/// the directory holding the built executables.
public enum TestEnvironment {
    /// The Unix socket directory of the test cluster.
    public static var postgresSocketDirectory: String {
        get throws {
            guard let directory = ProcessInfo.processInfo.environment["SEGMENTD_TEST_PG_SOCKET_DIR"], !directory.isEmpty else {
                throw TestSetupError("SEGMENTD_TEST_PG_SOCKET_DIR is not set: run the suite with ops/test, which starts PostgreSQL")
            }
            return directory
        }
    }

    /// The superuser of the test cluster.
    public static var postgresSuperuser: String {
        ProcessInfo.processInfo.environment["SEGMENTD_TEST_PG_SUPERUSER"] ?? "postgres"
    }

    /// Directory with the `segmentd` and `segctl` binaries.
    public static var binDirectory: String {
        get throws {
            if let directory = ProcessInfo.processInfo.environment["SEGMENTD_TEST_BIN"], !directory.isEmpty {
                return directory
            }
            // swift test runs .build/<triple>/debug/segmentdPackageTests.xctest; the binaries sit beside it.
            let candidate = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
            guard FileManager.default.isExecutableFile(atPath: candidate + "/segmentd") else {
                throw TestSetupError("cannot find the segmentd binary: set SEGMENTD_TEST_BIN or run ops/test")
            }
            return candidate
        }
    }

    /// A new directory under /tmp (short, so Unix socket paths fit), removed by the caller.
    public static func temporaryDirectory(_ prefix: String = "sgd") throws -> String {
        let path = "/tmp/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The test environment is not set up; says how to fix it.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
