import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket rollback`: undoes the latest migrations.
struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Roll back the latest migrations (one by default), newest first, each in its own transaction.")

    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: ArgumentHelp("How many migrations to roll back (default 1).", valueName: "n"))
    var steps: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Roll back every migration newer than this applied version (0: all).", valueName: "version")
    )
    var to: Int64?

    @Flag(
        name: .long,
        help: "Roll back a migration whose file is gone with the down SQL stored when it was applied (review it first)."
    )
    var useStoredDown = false

    func validate() throws {
        _ = try location.requireDatabase()
        if steps != nil && to != nil { throw ValidationError("Give either --steps or --to, not both.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be 1 or more.") }
        if let to, to < 0 { throw ValidationError("--to must be a version (digits), or 0 for all.") }
    }

    func run() throws {
        try Failure.reporting {
            var migrator = try location.makeMigrator()
            migrator.usesStoredDownSQL = useStoredDown
            let db = try location.openDatabase()
            defer { db.close() }
            let progress = Progress(verb: "rolling back")
            defer { progress.finish() }
            migrator.onStart = { progress.start($0) }
            let report: (MigrationRun) -> Void = { run in
                progress.finish()
                if run.wasDoneByAnotherRunner {
                    print("Skipped \(run.id): another runner rolled it back first.")
                } else {
                    print("Rolled back \(run.id) in \(formatDuration(run.durationMilliseconds)).")
                }
            }
            let runs: [MigrationRun]
            if let to {
                runs = try migrator.rollback(db, to: to, onProgress: report)
            } else {
                runs = try migrator.rollback(db, steps: steps ?? 1, onProgress: report)
            }
            let latest = try migrator.readHistory(db).last.map { "\($0.version)_\($0.name)" } ?? "none"
            if runs.isEmpty {
                print("Nothing to roll back (latest migration: \(latest)).")
            } else {
                print("Rolled back \(runs.count) migration\(runs.count == 1 ? "" : "s") (latest migration: \(latest)).")
            }
        }
    }
}
