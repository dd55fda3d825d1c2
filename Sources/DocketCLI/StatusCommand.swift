import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket status`: lists applied, pending, modified and missing migrations.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List the applied, pending, modified and missing migrations. Changes nothing.")

    @OptionGroup var location: LocationOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        _ = try location.requireDatabase()
    }

    /// The JSON document `status --json` prints.
    struct Document: Codable {
        var database: String
        var migrationsFolder: String
        var migrations: [MigrationStatus]
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try location.makeMigrator()
            let history = try location.readHistory(migrator)
            let entries = try migrator.status(
                history: history, repeatables: try location.readRepeatableHistory(migrator))
            if json {
                try printJSON(
                    Document(
                        database: try location.requireDatabase(), migrationsFolder: location.migrations,
                        migrations: entries))
                try Self.failIfAnyProblem(entries)
                return
            }
            print("Database:   \(try location.requireDatabase())")
            print("Migrations: \(location.migrations)")
            print("")
            if entries.isEmpty { print("No migrations yet: create one with `docket new NAME`.") }
            let nameWidth = entries.map { $0.name.count }.max() ?? 0
            for entry in entries {
                var line = entry.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                line +=
                    entry.isRepeatable
                    ? "R__" + entry.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                    : "\(entry.version)  " + entry.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                if let appliedAt = entry.appliedAt { line += "  applied \(appliedAt)" }
                if let milliseconds = entry.durationMilliseconds { line += " in \(formatDuration(milliseconds))" }
                if let squash = entry.squashedInto { line += "  (squashed into \(squash))" }
                if entry.isOutOfOrder { line += "  (older than the latest applied migration)" }
                if !entry.isReversible { line += "  (irreversible)" }
                if let problem = entry.problem { line += "  (problem: \(problem))" }
                print(line.trimmingCharacters(in: .whitespaces))
            }
            let counts = MigrationStatus.State.allCases.compactMap { state -> String? in
                let count = entries.filter { $0.state == state }.count
                return count == 0 ? nil : "\(count) \(state.rawValue)"
            }
            if !counts.isEmpty { print("\n" + counts.joined(separator: ", ") + ".") }
            try Self.failIfAnyProblem(entries)
        }
    }

    /// After listing everything: the problems on standard error, and exit 65.
    static func failIfAnyProblem(_ entries: [MigrationStatus]) throws {
        let problems = Set(entries.compactMap(\.problem)).sorted()
        guard !problems.isEmpty else { return }
        for problem in problems { Failure.printError(problem) }
        throw Failure.invalidMigrations
    }
}
