import ArgumentParser

/// Where segctl's arguments go before ArgumentParser reads them, and which
/// command a mistake belongs to.
///
/// The connection flags belong to each command (`segctl segments list --addr …`),
/// but people also write them first (`segctl --addr … segments list`), as with
/// kubectl or git. Flags found before or between subcommand names are moved to
/// just after the last subcommand name, so both orders mean the same.
enum CommandLineArguments {
    /// Connection flags that take a value, and those that do not.
    static let valued: Set<String> = ["--addr", "--api-key", "--ca", "--home"]
    static let plain: Set<String> = ["--json"]

    static func placingConnectionFlags(_ arguments: [String], root: ParsableCommand.Type) -> [String] {
        var moved: [String] = []
        var path: [String] = []
        var command = root
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if valued.contains(flag) {
                moved.append(argument)
                // `--addr x` (not `--addr=x`) carries its value in the next argument.
                if !argument.contains("="), index + 1 < arguments.count {
                    moved.append(arguments[index + 1])
                    index += 1
                }
                index += 1
                continue
            }
            if plain.contains(argument) {
                moved.append(argument)
                index += 1
                continue
            }
            guard let next = subcommand(named: argument, of: command) else { break }
            path.append(argument)
            command = next
            index += 1
        }
        return path + moved + arguments[index...]
    }

    /// The subcommand of `command` called `name` (or one of its aliases).
    static func subcommand(named name: String, of command: ParsableCommand.Type) -> ParsableCommand.Type? {
        command.configuration.subcommands.first { $0._commandName == name || $0.configuration.aliases.contains(name) }
    }

    /// The names from the root to `leaf` (`["segments", "update"]`), nil when it is not in the tree.
    static func path(to leaf: ParsableCommand.Type, from root: ParsableCommand.Type) -> [String]? {
        if leaf == root { return [] }
        for child in root.configuration.subcommands {
            if let rest = path(to: leaf, from: child) { return [child._commandName] + rest }
        }
        return nil
    }
}
