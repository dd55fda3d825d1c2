import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket validate`: checks the migrations, and the database's history when one is given.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract:
            "Check every migration file (and, with a database, its history), and run them all on a scratch database.")

    @OptionGroup var location: LocationOptions

    @Flag(name: .long, help: "Accept pending migrations older than the latest applied one.")
    var allowOutOfOrder = false

    func run() throws {
        try Failure.reporting {
            var migrator = try location.makeMigrator()
            migrator.allowsOutOfOrder = allowOutOfOrder
            let history = location.resolvedDatabase == nil ? [] : try location.readHistory(migrator)
            try migrator.validate(history: history)
            // Reading the files cannot tell `CREATE TABLEX` from SQL: running them can.
            try migrator.checkOnScratchDatabase()
            let count = migrator.migrations.count
            let against = location.resolvedDatabase.map { " against \($0)" } ?? ""
            print(
                "\(count) migration\(count == 1 ? "" : "s") checked\(against), and run up, down and up again on a "
                    + "scratch database: no problems found.")
        }
    }
}
