import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// Where the database and the migrations are; shared by every command that needs them.
struct LocationOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The SQLite database file. Defaults to the DOCKET_DATABASE environment variable.", valueName: "path"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp("The folder of <version>_<name>.sql files.", valueName: "dir"))
    var migrations = "./Migrations"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long to wait for another process's write lock (e.g. a second runner) before giving up; "
                + "fractions allowed (0.5).",
            valueName: "seconds"))
    var busyTimeout: Double = 30

    /// The database path from `--database`, else `DOCKET_DATABASE`.
    var resolvedDatabase: String? {
        if let database, !database.isEmpty { return database }
        if let fromEnvironment = ProcessInfo.processInfo.environment["DOCKET_DATABASE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return nil
    }

    func validate() throws {
        guard busyTimeout >= 0, busyTimeout.isFinite, busyTimeout <= 86_400 else {
            throw ValidationError("--busy-timeout must be between 0 and 86400 seconds (fractions allowed, e.g. 0.5).")
        }
    }

    /// The database path, or a usage error when neither the option nor the variable gives one.
    func requireDatabase() throws -> String {
        guard let path = resolvedDatabase else {
            throw ValidationError("Give the database with --database PATH or the DOCKET_DATABASE environment variable.")
        }
        return path
    }

    /// Opens (creating if needed) the database.
    func openDatabase() throws -> Database {
        var configuration = Configuration()
        configuration.busyTimeout = .milliseconds(Int((busyTimeout * 1000).rounded()))
        configuration.readerCount = 1
        let path = try requireDatabase()
        do {
            return try Database(path: path, configuration: configuration)
        } catch {
            throw Failure.cannotOpen(path, error)
        }
    }

    /// The database's history, without creating the file when it does not exist yet (then the
    /// history is empty), so read-only commands change nothing.
    func readHistory(_ migrator: Migrator) throws -> [AppliedMigration] {
        let path = try requireDatabase()
        guard FileManager.default.fileExists(atPath: path) else {
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
                throw Failure.cannotOpen(
                    path, "unable to open database file \(path): the folder \(folder) does not exist")
            }
            return []
        }
        let db = try openDatabase()
        defer { db.close() }
        return try migrator.readHistory(db)
    }

    /// The migrator for `--migrations`, with `--allow-out-of-order` applied by the caller.
    /// The repeatable migrations' history, empty when the database does not exist yet.
    func readRepeatableHistory(_ migrator: Migrator) throws -> [AppliedRepeatable] {
        let path = try requireDatabase()
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let db = try openDatabase()
        defer { db.close() }
        return try migrator.readRepeatableHistory(db)
    }

    /// The database, which must exist already (`why` says what a missing one means): exit 66.
    func openExistingDatabase(_ why: String = "") throws -> (path: String, db: Database) {
        let path = try requireDatabase()
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure.cannotOpen(path, "the database \(path) does not exist" + why)
        }
        return (path, try openDatabase())
    }

    func makeMigrator() throws -> Migrator {
        try Migrator(folder: migrations)
    }
}

/// Prints `value` as the JSON documents of `--json` options: pretty, keys sorted, slashes plain.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Formats a duration in milliseconds for people: `0.4 ms`, `12 ms`, `1.52 s`.
func formatDuration(_ milliseconds: Double) -> String {
    if milliseconds >= 1000 { return String(format: "%.2f s", milliseconds / 1000) }
    if milliseconds >= 10 { return String(format: "%.0f ms", milliseconds) }
    return String(format: "%.1f ms", milliseconds)
}
