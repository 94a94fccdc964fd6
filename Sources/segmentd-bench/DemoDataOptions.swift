import ArgumentParser
import Foundation
import SegmentdClient

/// The data a scenario seeds through the API with `segctl demo seed`: a named
/// size (issue 9: quick, 100k users and ~2M events; standard, 1M users and
/// ~20M events over 90 days with 20 event types), each part overridable.
struct DemoDataOptions: ParsableArguments {
    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case quick, standard
        var size: DemoDataGenerator.Size { self == .quick ? .quick : .standard }
    }

    @Option(
        help: "The data set: quick (100k users, 25 days, 4 event types, ≈ 2M events) or standard (1M users, 90 days, 20 event types, ≈ 20M events).")
    var size: Preset = .quick
    @Option(help: "Demo users (overrides the size's).") var users: Int?
    @Option(help: "Days of demo data, ending today (overrides the size's).") var days: Int?
    @Option(help: "Distinct event names, 4-20 (overrides the size's).") var eventTypes: Int?
    @Option(help: "Sessions per user scale (overrides the size's).") var activity: Double?

    /// The size after overrides.
    var resolved: DemoDataGenerator.Size {
        let preset = size.size
        return DemoDataGenerator.Size(
            users: users ?? preset.users, days: days ?? preset.days, eventTypes: eventTypes ?? preset.eventTypes,
            activity: activity ?? preset.activity)
    }

    /// Seeds the data through segmentd's API with segctl (beside this executable).
    func seed(home: String) throws {
        try Self.seed(resolved, home: home)
    }

    /// Seeds `data` through segmentd's API with segctl (beside this executable).
    static func seed(_ data: DemoDataGenerator.Size, home: String) throws {
        print("seeding \(data.users) demo users over \(data.days) days, \(data.eventTypes) event types…")
        let segctl = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("segctl").path
        try PredictiveBenchmark.runTool(
            segctl,
            [
                "demo", "seed", "--users", String(data.users), "--days", String(data.days), "--event-types", String(data.eventTypes),
                "--activity", String(data.activity),
            ],
            environment: ["SEGMENTD_HOME": home])
    }

    /// Appended to the scenario's name, so a standard-size row does not replace the quick one.
    var scenarioSuffix: String { size == .quick ? "" : "_\(size.rawValue)" }

    /// What the results record about the data.
    var details: [String: String] {
        let data = resolved
        return ["size": size.rawValue, "users": String(data.users), "days": String(data.days), "event_types": String(data.eventTypes)]
    }
}
