import Docket
import DocketMigrations
import Foundation
import Testing

/// A temporary folder with a `Migrations/` subfolder and a database path, removed by `remove()`.
struct Workspace {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "docket-migrations-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("Migrations"), withIntermediateDirectories: true)
    }

    var migrations: String { root.appendingPathComponent("Migrations").path }
    var database: String { root.appendingPathComponent("db.sqlite").path }

    /// Writes `Migrations/<fileName>`.
    func write(_ fileName: String, _ contents: String) throws {
        try contents.write(
            to: root.appendingPathComponent("Migrations").appendingPathComponent(fileName), atomically: true,
            encoding: .utf8)
    }

    /// Removes `Migrations/<fileName>`.
    func delete(_ fileName: String) throws {
        try FileManager.default.removeItem(
            at: root.appendingPathComponent("Migrations").appendingPathComponent(fileName))
    }

    /// Copies the repository's bookstore migrations into this workspace.
    func copyBookstoreMigrations() throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: bookstoreMigrations)
        where file.hasSuffix(".sql") {
            try FileManager.default.copyItem(
                atPath: (bookstoreMigrations as NSString).appendingPathComponent(file),
                toPath: (migrations as NSString).appendingPathComponent(file))
        }
    }

    func path(of fileName: String) -> String { (migrations as NSString).appendingPathComponent(fileName) }

    func open() throws -> Database { try Database(path: database) }

    func migrator(allowingOutOfOrder: Bool = false) throws -> Migrator {
        var migrator = try Migrator(folder: migrations)
        migrator.allowsOutOfOrder = allowingOutOfOrder
        return migrator
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// The repository root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The repository's `Migrations/` folder.
let bookstoreMigrations = packageRoot.appendingPathComponent("Migrations").path

/// Everything in the database, as text: each schema object's SQL, then every row of every table
/// (history included). Two equal dumps mean the database did not change.
func dump(_ db: Database) throws -> String {
    try db.blocking.read { connection in
        var text = ""
        let objects = try connection.fetchAll(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        for object in objects {
            text += "\(object.values[0].textValue ?? "") \(object.values[1].textValue ?? ""): "
            text += (object.values[2].textValue ?? "") + "\n"
            guard object.values[0] == .text("table"), let name = object.values[1].textValue else { continue }
            for row in try connection.fetchAll("SELECT * FROM \"\(name)\" ORDER BY rowid") {
                text += "  \(row)\n"
            }
        }
        return text
    }
}

/// The dump of the database file at `path`, opened and closed for the purpose.
func dump(path: String) throws -> String {
    let db = try Database(path: path)
    defer { db.close() }
    return try dump(db)
}

/// The versions in the history table.
func appliedVersions(_ db: Database) throws -> [Int64] {
    try db.blocking.read { connection in
        let exists = try connection.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'docket_migrations'")
        guard exists == .integer(1) else { return [] }
        return try connection.fetchAll("SELECT version FROM docket_migrations ORDER BY version").compactMap {
            $0.values[0].integerValue
        }
    }
}

/// The names of the user tables.
func tableNames(_ db: Database) throws -> [String] {
    try db.blocking.read { connection in
        try connection.fetchAll(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).compactMap { $0.values[0].textValue }
    }
}

/// Runs `body` and returns the MigrationError it throws (failing the test if it throws none).
func migrationError(_ body: () throws -> Void) -> MigrationError? {
    do {
        try body()
        Issue.record("expected a MigrationError, but nothing was thrown")
        return nil
    } catch let error as MigrationError {
        return error
    } catch {
        Issue.record("expected a MigrationError, got \(error)")
        return nil
    }
}
