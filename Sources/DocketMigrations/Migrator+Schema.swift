import Docket
import Foundation

extension Migrator {
    /// The schema of `db` as SQL, for a file reviewed in pull requests (`docket schema dump`):
    /// a header naming the latest applied version, then every table, index, view and trigger as
    /// SQLite stores its `CREATE` statement, in a stable order (tables by name, each followed by
    /// its indexes by name, then views, then triggers). SQLite's own objects, automatic indexes
    /// and Docket's `docket_migrations` table are left out.
    public func schemaDump(_ db: Database) throws(MigrationError) -> String {
        let history = try readHistory(db)
        do {
            return try db.blocking.read { connection in
                try Self.dump(connection, version: history.map(\.version).max())
            }
        } catch {
            throw MigrationError.wrapping(error, doing: "reading the schema")
        }
    }

    /// The schema these migrations produce on an empty scratch database, as ``schemaDump(_:)``
    /// writes it: what `docket schema check` compares the committed file with.
    public func scratchSchema() throws(MigrationError) -> String {
        try scratchSchemaAndRows().schema
    }

    /// Compares a committed schema file's text with ``scratchSchema()``: `nil` when they are the
    /// same, else the first line that differs (`docket schema check`).
    public func checkSchema(_ committed: String) throws(MigrationError) -> SchemaDifference? {
        let expected = try scratchSchema()
        guard committed != expected else { return nil }
        let have = committed.split(separator: "\n", omittingEmptySubsequences: false)
        let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let line =
            zip(have, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(have.count, want.count)
        return SchemaDifference(
            line: line + 1, found: line < have.count ? String(have[line]) : nil,
            expected: line < want.count ? String(want[line]) : nil)
    }

    /// ``scratchSchema()``, and each table the migrations leave rows in, with its row count.
    func scratchSchemaAndRows() throws(MigrationError) -> (schema: String, rows: [(table: String, count: Int64)]) {
        let db = try Self.scratchDatabase()
        defer { db.close() }
        var scratch = self
        scratch.allowsOutOfOrder = true
        try scratch.migrate(db)
        let schema = try scratch.schemaDump(db)
        do {
            let rows = try db.blocking.read { connection in
                try connection.fetchAll(
                    """
                    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                      AND name NOT IN \(MigrationHistory.docketTables) ORDER BY name
                    """
                ).compactMap { row -> (table: String, count: Int64)? in
                    guard let table = row.values[0].textValue else { return nil }
                    let count =
                        try connection.scalar(
                            "SELECT count(*) FROM \"\(table.replacingOccurrences(of: "\"", with: "\"\""))\""
                        ).integerValue ?? 0
                    return count > 0 ? (table, count) : nil
                }
            }
            return (schema, rows)
        } catch {
            throw MigrationError.wrapping(error, doing: "counting the rows the migrations leave")
        }
    }

    private static func dump(_ db: Connection, version: Int64?) throws -> String {
        var text = """
            -- The database schema, as the migrations leave it. Written by `docket schema dump`,
            -- checked by `docket schema check`: regenerate it, do not edit it.
            -- Applied version: \(version.map(String.init) ?? "none")

            """
        let rows = try db.fetchAll(
            """
            SELECT type, name, tbl_name, sql FROM sqlite_master
            WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name NOT IN \(MigrationHistory.docketTables)
            ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 0 WHEN 'view' THEN 1 ELSE 2 END,
                     CASE type WHEN 'view' THEN name WHEN 'trigger' THEN name ELSE tbl_name END,
                     type <> 'table', name
            """)
        for row in rows {
            guard let sql = row.values[3].textValue else { continue }
            text += "\n" + sql.trimmingCharacters(in: .whitespacesAndNewlines) + ";\n"
        }
        return text
    }
}

/// Where a schema file first differs from what the migrations produce.
public struct SchemaDifference: Sendable, Hashable, Codable {
    /// The 1-based line.
    public let line: Int
    /// The file's line there, `nil` past its end.
    public let found: String?
    /// The migrations' line there, `nil` past their end.
    public let expected: String?
}
