import ArgumentParser
import Foundation
import SegmentdAPI
import SegmentdClient

extension Segctl {
    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check, preview and explain rules without saving them (segments.read; explain needs users.read).",
            discussion: """
                A rule is text such as 'did add_to_cart in last 24h and not did purchase in last 24h'; \
                the grammar with an example of every criterion is in docs/rules.md. Give it as arguments, \
                or with --file FILE ('-' reads standard input).
                """,
            subcommands: [Check.self, Preview.self, Explain.self])

        /// The rule text from arguments or a file.
        struct RuleInput: ParsableArguments {
            @Option(name: .customLong("file"), help: "Read the rule from a file ('-' for standard input).") var file: String?
            @Argument(help: "The rule text (quote it for the shell).") var words: [String] = []

            func validate() throws {
                if file == nil && words.isEmpty { throw ValidationError("give the rule as an argument or with --file") }
            }

            func text() throws -> String {
                if let file {
                    let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
                    return String(decoding: data, as: UTF8.self)
                }
                guard !words.isEmpty else { throw ValidationError("give the rule as an argument or with --file") }
                return words.joined(separator: " ")
            }

            var definition: Segmentd_V1_RuleDefinition {
                get throws {
                    let text = try text()
                    return .with { $0.text = text }
                }
            }
        }

        /// Prints diagnostics, to standard output when they are the command's answer
        /// (`rules check`) and to standard error when they accompany one (a saved segment).
        static func printDiagnostics(_ diagnostics: [Segmentd_V1_RuleDiagnostic], toStandardError: Bool = false) {
            func print(_ text: String) {
                if toStandardError { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { Swift.print(text) }
            }
            for diagnostic in diagnostics {
                let severity = diagnostic.severity == .error ? "error" : "warning"
                var line = "\(severity): "
                if diagnostic.line > 0 {
                    line += "line \(diagnostic.line), column \(diagnostic.column): "
                } else if !diagnostic.path.isEmpty {
                    line += "\(diagnostic.path): "
                }
                line += diagnostic.message
                if !diagnostic.expected.isEmpty { line += " (expected \(diagnostic.expected.joined(separator: ", ")))" }
                print(line)
                if !diagnostic.excerpt.isEmpty {
                    print(diagnostic.excerpt.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
                }
            }
        }

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Parse and validate a rule against the tenant's catalog; print its canonical text and meaning.",
                discussion: "Exits 1 when the rule has errors; warnings (names never seen yet) do not fail.")
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var rule: RuleInput
            func run() async throws {
                let definition = try rule.definition
                var valid = true
                try await runCommand {
                    let response = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.rules.checkRule(
                            .with {
                                $0.parent = tenant
                                $0.rule = definition
                            }, metadata: client.metadata)
                    }
                    valid = response.valid
                    if connection.json { return try printJSON(response) }
                    if response.hasRule {
                        print(response.rule.text)
                        print(response.rule.description_p)
                    }
                    Rules.printDiagnostics(response.diagnostics)
                    if response.valid && response.diagnostics.isEmpty { print("ok") }
                }
                if !valid { throw ExitCode(1) }
            }
        }

        struct Preview: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Count who matches a rule now and show a sample, without saving anything.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("sample"), help: "Members to show (1-1000).") var sample: Int32 = 10
            @OptionGroup var rule: RuleInput

            func validate() throws {
                guard (1...1000).contains(sample) else { throw ValidationError("--sample: 1-1000") }
            }

            func run() async throws {
                let definition = try rule.definition
                try await runCommand {
                    let response = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.rules.previewRule(
                            .with {
                                $0.parent = tenant
                                $0.rule = definition
                                $0.sampleSize = sample
                            }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(response) }
                    print(response.rule.text)
                    print(response.rule.description_p)
                    Rules.printDiagnostics(response.diagnostics, toStandardError: true)
                    print("\(response.count) member\(response.count == 1 ? "" : "s") at \(show(response.evaluateTime))")
                    for id in response.sampleUserIds { print("  " + id) }
                }
            }
        }

        struct Explain: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show why a user is or is not matched by a rule: each condition's result and what was observed.")
            @OptionGroup var connection: ConnectionOptions
            @Option(name: .customLong("user"), help: "The user id.") var user: String
            @OptionGroup var rule: RuleInput
            func run() async throws {
                let definition = try rule.definition
                try await runCommand {
                    let response = try await connection.withConnection { client in
                        let tenant = try await client.callerTenant()
                        return try await client.rules.explainMembership(
                            .with {
                                $0.parent = tenant
                                $0.rule = definition
                                $0.userID = user
                            }, metadata: client.metadata)
                    }
                    if connection.json { return try printJSON(response) }
                    print("\(user) is \(response.member ? "" : "not ")matched at \(show(response.evaluateTime))")
                    Rules.printPartial(response)
                    Rules.printTree(response.root, indent: 0)
                }
            }
        }

        /// Says so when the explanation evaluated only the user's newest events.
        static func printPartial(_ response: Segmentd_V1_ExplainMembershipResponse) {
            guard response.partial else { return }
            print("partial: only the newest \(response.eventLimit) events and campaign responses of this user were evaluated")
        }

        static func printTree(_ node: Segmentd_V1_ExplainNode, indent: Int) {
            var line = String(repeating: "  ", count: indent) + (node.result ? "✓ " : "✗ ") + node.text
            if !node.observed.isEmpty { line += "  — " + node.observed }
            print(line)
            for child in node.children { printTree(child, indent: indent + 1) }
        }
    }
}
