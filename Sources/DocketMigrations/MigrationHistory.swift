import Docket
import Foundation

/// One row of the history table: a migration that was applied.
public struct AppliedMigration: Sendable, Hashable, Codable {
    /// The migration's version.
    public let version: Int64
    /// The migration's name when it was applied.
    public let name: String
    /// The SHA-256 of its normalized up section when it was applied; `nil` for Swift migrations.
    public let checksum: String?
    /// When it was applied (UTC, ISO 8601).
    public let appliedAt: String
    /// How long its up step took, in milliseconds.
    public let durationMilliseconds: Double
    /// The down section's text as applied, so a rollback works after the file is gone; `nil` when
    /// the migration is irreversible or written in Swift.
    public let downSQL: String?
    /// The file line where the down section's text started.
    public let downLine: Int?
    /// The down section's options as written on its marker line (e.g. `transaction:false`).
    public let downOptions: String?
    /// `false` for a migration marked `-- migrate:down irreversible` (or a Swift one without `down`).
    public let isReversible: Bool
}

/// The history table, `docket_migrations`: which migrations were applied, when, and how to undo them.
///
/// The table holds one row per applied migration and nothing else: there is no "dirty" flag,
/// because a migration and its row commit in one transaction, or neither does.
enum MigrationHistory {
    static let table = "docket_migrations"
    /// Docket's own tables, which schema dumps and baselines leave out, as an SQL list.
    static let docketTables = "('docket_migrations', 'docket_repeatable_migrations', 'docket_migration_repairs')"

    static let createSQL = """
        CREATE TABLE IF NOT EXISTS docket_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT,
            applied_at TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            down_sql TEXT,
            down_line INTEGER,
            down_options TEXT,
            reversible INTEGER NOT NULL
        )
        """

    static let insertSQL = """
        INSERT INTO docket_migrations \
        (version, name, checksum, applied_at, duration_ms, down_sql, down_line, down_options, reversible) \
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static let deleteSQL = "DELETE FROM docket_migrations WHERE version = ?"

    /// Whether one of Docket's tables exists yet (they are created by the first run that needs them).
    static func exists(_ name: String, on connection: Connection) throws -> Bool {
        try connection.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
            != .integer(0)
    }

    /// Every table and, with `views`, view of the user's schema, with its columns in order (SQLite's
    /// own tables and Docket's left out): what `lint` compares before and after a migration, and
    /// what `baseline` checks a database for.
    static func columnsByTable(_ connection: Connection, views: Bool) throws -> [String: [String]] {
        var tables: [String: [String]] = [:]
        for row in try connection.fetchAll(
            """
            SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_xinfo(m.name) AS p
            WHERE m.type IN ('table'\(views ? ", 'view'" : "")) AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
              AND m.name NOT IN \(docketTables)
            ORDER BY m.name, p.cid
            """)
        {
            guard let table = row.values[0].textValue, let column = row.values[1].textValue else { continue }
            tables[table, default: []].append(column)
        }
        return tables
    }

    /// Every applied migration, by version; empty when the table does not exist yet.
    static func read(_ connection: Connection) throws -> [AppliedMigration] {
        guard try exists(table, on: connection) else { return [] }
        return try connection.fetchAll(
            """
            SELECT version, name, checksum, applied_at, duration_ms, down_sql, down_line, down_options, reversible \
            FROM docket_migrations ORDER BY version
            """
        ).map { row in
            AppliedMigration(
                version: row.values[0].integerValue ?? 0, name: row.values[1].textValue ?? "",
                checksum: row.values[2].textValue, appliedAt: row.values[3].textValue ?? "",
                durationMilliseconds: milliseconds(row.values[4]), downSQL: row.values[5].textValue,
                downLine: row.values[6].integerValue.map(Int.init), downOptions: row.values[7].textValue,
                isReversible: row.values[8] != .integer(0))
        }
    }

    private static func milliseconds(_ value: DatabaseValue) -> Double {
        switch value {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: 0
        }
    }

    /// Whether `version` has a row, read inside the caller's transaction.
    static func contains(_ connection: Connection, version: Int64) throws -> Bool {
        guard try exists(table, on: connection) else { return false }
        return try connection.scalar("SELECT count(*) FROM docket_migrations WHERE version = ?", [version])
            != .integer(0)
    }

    /// The history row for `migration`, applied now and having taken `milliseconds`.
    static func insertArguments(
        for migration: Migration, milliseconds: Double, now: Date = Date()
    ) -> [any DatabaseValueConvertible] {
        let down = migration.down
        let values: [DatabaseValue] = [
            .integer(migration.version), .text(migration.name), migration.checksum.map(DatabaseValue.text) ?? .null,
            .text(timestamp(now)), .real(milliseconds), down?.text.map(DatabaseValue.text) ?? .null,
            down?.text == nil ? .null : .integer(Int64(down!.firstLine)),
            down?.text == nil ? .null : .text(down!.options.description), .integer(down == nil ? 0 : 1),
        ]
        return values
    }

    /// `2026-11-23T12:45:00.123Z`: UTC, sortable, readable.
    static func timestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
