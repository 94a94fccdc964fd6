import ArgumentParser
import Foundation
import SegmentdClient

@main
struct Segctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segctl",
        abstract: "Administer a Segmentd server.",
        discussion: """
            Connection settings come from flags, then the environment (SEGMENTD_ADDR, SEGMENTD_API_KEY, \
            SEGMENTD_CA), then the segctl.json that segmentd writes into its data directory \
            ($SEGMENTD_HOME, default ./.segmentd): on the server's machine no setting is needed.
            """,
        version: ClientVersion.current,
        subcommands: [
            Health.self, WhoAmI.self, Version.self, Tenants.self, Keys.self, Roles.self, Audit.self, Ingest.self, Tags.self, Users.self, Rules.self,
            Segments.self, ReadyToUse.self, Jobs.self, Check.self, Catalog.self, Demo.self,
        ]
    )

    /// ArgumentParser's entry point, with two changes: connection flags may come
    /// before the subcommand, and a mistake found while a command runs (a bad
    /// `--schedule`, nothing to update) prints that command's usage, not segctl's.
    static func main() async {
        let arguments = CommandLineArguments.placingConnectionFlags(Array(CommandLine.arguments.dropFirst()), root: Segctl.self)
        let command: ParsableCommand
        do {
            command = try await asyncParseAsRoot(arguments)
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
        } catch let error as ValidationError {
            let leaf = type(of: command)
            let path = (CommandLineArguments.path(to: leaf, from: Segctl.self) ?? []).joined(separator: " ")
            FileHandle.standardError.write(
                Data(
                    """
                    Error: \(error.message)
                    \(usageString(for: leaf))
                      See 'segctl \(path) --help' for more information.

                    """.utf8))
            exit(withError: ExitCode.validationFailure)
        } catch {
            exit(withError: error)
        }
    }
}

/// Connection flags shared by every command.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("addr"), help: "Server address host:port (env SEGMENTD_ADDR).")
    var address: String?

    @Option(name: .customLong("api-key"), help: "API key (env SEGMENTD_API_KEY). Prefer the environment: flags show up in process lists.")
    var apiKey: String?

    @Option(name: .customLong("ca"), help: "PEM file of the CA that signed the server's certificate (env SEGMENTD_CA).")
    var ca: String?

    @Option(name: .customLong("home"), help: "segmentd data directory holding segctl.json (env SEGMENTD_HOME; default ./.segmentd).")
    var home: String?

    @Flag(name: .customLong("json"), help: "Print JSON for scripts instead of text for people.")
    var json = false

    /// Resolved settings; `platform` takes the platform operator's key from segctl.json
    /// when no key is given explicitly.
    func settings(platform: Bool = false) throws -> ClientSettings {
        try ClientSettings.resolve(address: address, caPath: ca, apiKey: apiKey, home: home, usePlatformKey: platform)
    }

    /// Connects with a key (refusing to try without one) and runs `body`.
    func withConnection<Result: Sendable>(
        platform: Bool = false, _ body: (SegmentdConnection) async throws -> Result
    ) async throws -> Result {
        let settings = try settings(platform: platform)
        guard settings.apiKey != nil else { throw ClientError(.invalidSettings, missingKeyMessage()) }
        return try await SegmentdConnection.with(settings, body)
    }
}

extension ConnectionOptions {
    /// Where segctl looked for a key and how to give one: the usual mistake is
    /// running it outside the directory segmentd keeps its data in.
    func missingKeyMessage(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let directory = home ?? ClientSettings.defaultHome(environment: environment)
        let file = URL(fileURLWithPath: directory).appendingPathComponent(ClientSettings.File.fileName).standardizedFileURL.path
        let source = home != nil ? "--home" : environment["SEGMENTD_HOME"].map { _ in "SEGMENTD_HOME" } ?? "the default, ./.segmentd"
        let found =
            FileManager.default.fileExists(atPath: file)
            ? "\(file) (from \(source)) has no API key"
            : "there is no \(file) (from \(source))"
        return """
            no API key: \(found). Set SEGMENTD_API_KEY or --api-key, or point --home (or SEGMENTD_HOME) \
            at the data directory of the segmentd that created your key
            """
    }
}

/// Runs a command body, printing client errors as one plain line and exiting 1.
func runCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        FileHandle.standardError.write(Data("segctl: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

/// Prints `value` as sorted, pretty JSON.
func printJSON(_ value: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
        print(String(decoding: data, as: UTF8.self))
    }
}
