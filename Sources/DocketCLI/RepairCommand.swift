import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket repair`: the one explicit way to accept an edited applied migration.
struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Accept edited applied migrations: record their new checksums, audited. Runs none of their SQL.",
        discussion: """
            For each applied migration whose file no longer matches the checksum recorded when it was applied \
            (status shows it as 'modified'), records the file's checksum and down section, and writes the old \
            checksum and the time to the docket_migration_repairs table. Nothing else changes: the edit is not \
            applied to the database. Use it when the edit changed nothing that ran (a comment, formatting) or \
            after making the same change by hand.
            """)

    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: "Repair only this version.")
    var version: Int64?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        _ = try location.requireDatabase()
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try location.makeMigrator()
            let (_, db) = try location.openExistingDatabase()
            defer { db.close() }
            let repairs = try migrator.repair(db, version: version)
            if json {
                try printJSON(repairs)
                return
            }
            if repairs.isEmpty { print("Nothing to repair: every applied migration matches its file.") }
            for repair in repairs {
                print(
                    "Repaired \(repair.version)_\(repair.name): checksum \(repair.oldChecksum.prefix(12)) → "
                        + "\(repair.newChecksum.prefix(12)), recorded at \(repair.repairedAt). No SQL was run.")
            }
        }
    }
}

/// `docket baseline`: adopts an existing database.
struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Adopt an existing database: record the migrations up to a version as applied, without running them.",
        discussion: """
            First checks that every table and view those migrations create exists in the database with their \
            columns (by running them on a scratch database), and refuses a database that already has a \
            migration history. Later migrations then apply with `docket migrate` as usual.
            """)

    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: "The last migration the database already matches.")
    var version: Int64

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// What `baseline --json` prints.
    struct Document: Codable {
        struct Recorded: Codable {
            var version: Int64
            var name: String
            var path: String?
        }
        var database: String
        var baseline: Int64
        var recorded: [Recorded]
    }

    func validate() throws {
        _ = try location.requireDatabase()
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try location.makeMigrator()
            let (path, db) = try location.openExistingDatabase(": there is nothing to adopt")
            defer { db.close() }
            let adopted = try migrator.baseline(db, version: version)
            if json {
                let document = Document(
                    database: path, baseline: version,
                    recorded: adopted.map { .init(version: $0.version, name: $0.name, path: $0.path) })
                try printJSON(document)
                return
            }
            for migration in adopted { print("Recorded \(migration.id) as applied (baseline, not run)") }
            print(
                "Baseline at \(version): \(adopted.count) migration\(adopted.count == 1 ? "" : "s") recorded; "
                    + "`docket migrate` applies the later ones.")
        }
    }
}
