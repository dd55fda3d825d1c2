import Docket
import Foundation

/// One applied migration whose recorded checksum ``Migrator/repair(_:version:)`` replaced.
public struct MigrationRepair: Sendable, Hashable, Codable {
    public let version: Int64
    public let name: String
    /// The checksum recorded when it was applied (or at the previous repair).
    public let oldChecksum: String
    /// The checksum of the file as it is now, recorded from now on.
    public let newChecksum: String
    /// When the repair was recorded (UTC, ISO 8601).
    public let repairedAt: String
}

/// The audit table of repairs, `docket_migration_repairs`: one row per accepted edit, never
/// deleted, so that `docket repair` leaves a trace of what it accepted and when.
enum RepairHistory {
    static let createSQL = """
        CREATE TABLE IF NOT EXISTS docket_migration_repairs (
            version INTEGER NOT NULL,
            name TEXT NOT NULL,
            old_checksum TEXT NOT NULL,
            new_checksum TEXT NOT NULL,
            repaired_at TEXT NOT NULL
        )
        """

    static func read(_ connection: Connection) throws -> [MigrationRepair] {
        guard try MigrationHistory.exists("docket_migration_repairs", on: connection) else { return [] }
        return try connection.fetchAll(
            "SELECT version, name, old_checksum, new_checksum, repaired_at FROM docket_migration_repairs ORDER BY rowid"
        ).map { row in
            MigrationRepair(
                version: row.values[0].integerValue ?? 0, name: row.values[1].textValue ?? "",
                oldChecksum: row.values[2].textValue ?? "", newChecksum: row.values[3].textValue ?? "",
                repairedAt: row.values[4].textValue ?? "")
        }
    }
}

extension Migrator {
    /// Accepts edited applied migrations: records each one's new checksum (and its down section as
    /// the file now has it), and writes the old checksum and the time to `docket_migration_repairs`.
    /// Never runs any SQL of a migration. Only migrations whose file differs from the recorded
    /// checksum are repaired; with `version`, only that one (which must be such a migration).
    /// All of it is one transaction. Returns what was repaired (empty when nothing was edited).
    @discardableResult
    public func repair(_ db: Database, version: Int64? = nil) throws(MigrationError) -> [MigrationRepair] {
        if let error = MigrationError.combining(definitionProblems) { throw error }
        do {
            return try db.blocking.writeWithoutTransaction { connection in
                try connection.execute("BEGIN IMMEDIATE")
                do {
                    let history = try MigrationHistory.read(connection)
                    var modified = compare(history).modified
                    if let version {
                        modified = modified.filter { $0.0.version == version }
                        guard !modified.isEmpty else {
                            let known = history.contains { $0.version == version }
                            throw MigrationError(
                                .invalidTarget,
                                known
                                    ? "migration \(version) is applied and its file matches the recorded checksum: "
                                        + "there is nothing to repair."
                                    : "no applied migration has version \(version); `docket status` lists them.")
                        }
                    }
                    var repairs: [MigrationRepair] = []
                    if !modified.isEmpty { try connection.execute(RepairHistory.createSQL) }
                    let now = MigrationHistory.timestamp(Date())
                    for (applied, migration) in modified {
                        let new = migration.checksum!
                        // The history row as the file now has it: the same columns a fresh apply writes.
                        let row = MigrationHistory.insertArguments(for: migration, milliseconds: 0)
                        let arguments: [any DatabaseValueConvertible] =
                            [new, migration.name] + row[5...8] + [applied.version]
                        try connection.execute(
                            """
                            UPDATE docket_migrations SET checksum = ?, name = ?, down_sql = ?, down_line = ?,
                            down_options = ?, reversible = ? WHERE version = ?
                            """, arguments)
                        try connection.execute(
                            """
                            INSERT INTO docket_migration_repairs (version, name, old_checksum, new_checksum, repaired_at)
                            VALUES (?, ?, ?, ?, ?)
                            """,
                            [applied.version, migration.name, applied.checksum ?? "", new, now])
                        repairs.append(
                            MigrationRepair(
                                version: applied.version, name: migration.name, oldChecksum: applied.checksum ?? "",
                                newChecksum: new, repairedAt: now))
                    }
                    try connection.execute("COMMIT")
                    return repairs
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw MigrationError.wrapping(error, doing: "repairing the migration history of \(db.path)")
        }
    }

    /// Every repair recorded in `db`, oldest first.
    public func repairs(_ db: Database) throws(MigrationError) -> [MigrationRepair] {
        do {
            return try db.blocking.read { try RepairHistory.read($0) }
        } catch {
            throw MigrationError.wrapping(error, doing: "reading the repairs of \(db.path)")
        }
    }

    /// Adopts an existing database: records the migrations up to `version` as applied without
    /// running them, once it has checked that every table and view they create exists in `db`
    /// with at least their columns (found by running them on a scratch database). Refuses a
    /// database that already has a history, and a `version` no migration has. Returns the
    /// migrations recorded.
    @discardableResult
    public func baseline(_ db: Database, version: Int64) throws(MigrationError) -> [Migration] {
        if let error = MigrationError.combining(definitionProblems) { throw error }
        guard migrations.contains(where: { $0.version == version }) else {
            throw MigrationError(
                .invalidTarget, "no migration has version \(version); `docket status` lists the versions.")
        }
        let adopted = upTo(version).migrations
        // What those migrations create, from a scratch database.
        let expected: [String: [String]]
        do {
            let scratch = try Self.scratchDatabase()
            defer { scratch.close() }
            try upTo(version).migrate(scratch)
            expected = try scratch.blocking.read { try MigrationHistory.columnsByTable($0, views: true) }
        } catch {
            throw MigrationError(
                .invalidMigrations, "the migrations up to \(version) do not run on an empty scratch database:",
                problems: [MigrationError.wrapping(error, doing: "running them")])
        }
        do {
            return try db.blocking.writeWithoutTransaction { connection in
                try connection.execute("BEGIN IMMEDIATE")
                do {
                    let history = try MigrationHistory.read(connection)
                    guard history.isEmpty else {
                        throw MigrationError(
                            .invalidTarget,
                            "\(db.path) already has a migration history (\(history.count) applied, the latest "
                                + "\(history.last!.version)_\(history.last!.name)): baseline adopts only a database "
                                + "no migration has touched; use `docket migrate`.")
                    }
                    let present = try MigrationHistory.columnsByTable(connection, views: true)
                    var missing: [String] = []
                    for (name, columns) in expected.sorted(by: { $0.key < $1.key }) {
                        guard let have = present[name] else {
                            missing.append("\(name) does not exist")
                            continue
                        }
                        let absent = columns.filter { !have.contains($0) }
                        if !absent.isEmpty { missing.append("\(name) has no column \(absent.joined(separator: ", "))") }
                    }
                    guard missing.isEmpty else {
                        throw MigrationError(
                            .invalidTarget,
                            "\(db.path) is not at version \(version): " + missing.joined(separator: "; ")
                                + ". Nothing was recorded; baseline at the version the database matches.")
                    }
                    try connection.execute(MigrationHistory.createSQL)
                    for migration in adopted {
                        try connection.execute(
                            MigrationHistory.insertSQL,
                            MigrationHistory.insertArguments(for: migration, milliseconds: 0))
                    }
                    try connection.execute("COMMIT")
                    return adopted
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
            }
        } catch {
            throw MigrationError.wrapping(error, doing: "recording a baseline in \(db.path)")
        }
    }
}

extension Migrator {
    /// A migrator holding only the versioned migrations up to `version` (no repeatable ones): what
    /// `baseline` and `squash` run on a scratch database to see the schema at that version.
    func upTo(_ version: Int64) -> Migrator {
        var partial = Migrator()
        for migration in migrations where migration.version <= version { partial.insert(migration) }
        return partial
    }

    /// Whether `migrate(to: target)` also runs the repeatable migrations: only once every versioned
    /// one is applied, since their definitions may need the latest tables.
    public func runsRepeatables(to target: Int64?) -> Bool {
        target.map { $0 >= (migrations.map(\.version).max() ?? 0) } ?? true
    }
}
