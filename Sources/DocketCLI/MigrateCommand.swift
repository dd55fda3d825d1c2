import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket migrate`: applies the pending migrations.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the pending migrations, in version order, each in its own transaction.")

    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: ArgumentHelp("Apply migrations up to this version only.", valueName: "version"))
    var to: Int64?

    @Flag(name: .long, help: "Print the exact SQL that would run, and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Also apply pending migrations older than the latest applied one.")
    var allowOutOfOrder = false

    func validate() throws {
        _ = try location.requireDatabase()
        if let to, to < 0 { throw ValidationError("--to must be a version (digits).") }
    }

    func run() throws {
        try Failure.reporting {
            var migrator = try location.makeMigrator()
            migrator.allowsOutOfOrder = allowOutOfOrder
            if dryRun {
                let history = try location.readHistory(migrator)
                let script = try migrator.dryRun(history: history, to: to)
                if script.isEmpty {
                    print("-- Dry run: nothing to apply; the database is up to date.")
                } else {
                    print("-- Dry run: nothing was changed. This is the SQL `docket migrate` would run.\n")
                    print(script, terminator: "")
                }
                return
            }
            let db = try location.openDatabase()
            defer { db.close() }
            for entry in try migrator.status(db) where entry.state == .missing && entry.isRepeatable {
                Failure.printWarning(
                    "R__\(entry.name) ran before but its file is gone: what it created stays in the database, and "
                        + "it no longer runs.")
            }
            for entry in try migrator.status(db) where entry.state == .missing && !entry.isRepeatable {
                Failure.printWarning(
                    "\(entry.version)_\(entry.name) is applied but its file is gone; rolling it back needs "
                        + "`docket rollback --use-stored-down` (the down section stored in docket_migrations).")
            }
            let started = ContinuousClock.now
            let progress = Progress(verb: "applying")
            defer { progress.finish() }
            migrator.onStart = { progress.start($0) }
            let runs = try migrator.migrate(db, to: to) { run in
                progress.finish()
                if run.wasDoneByAnotherRunner {
                    print("Skipped \(run.id): another runner applied it first.")
                } else {
                    print("Applied \(run.id) in \(formatDuration(run.durationMilliseconds)).")
                }
            }
            let elapsed = ContinuousClock.now - started
            let applied = runs.filter { !$0.wasDoneByAnotherRunner }.count
            let latest = try migrator.readHistory(db).last.map { "\($0.version)_\($0.name)" } ?? "none"
            if applied == 0 {
                print("The database is already up to date (latest migration: \(latest)).")
            } else {
                let total = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
                print(
                    "Applied \(applied) migration\(applied == 1 ? "" : "s") in \(formatDuration(total)) "
                        + "(latest migration: \(latest)).")
            }
        }
    }
}
