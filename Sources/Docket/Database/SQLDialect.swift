/// The SQL text a backend speaks: how it quotes names, writes parameters, compares with NULL,
/// and hands generated keys back. The unit of work's statements (insert, update with its
/// compare-and-set, delete, upsert, the re-read of a stale row) are written once, here, from these
/// few primitives; a backend supplies a dialect, never its own copy of the statements.
///
/// SQLite: `?` parameters, `IS` as the NULL-safe comparison. PostgreSQL (in `DocketPostgres`):
/// `$1, $2, …`, `IS NOT DISTINCT FROM`. Parameters are numbered in the order they appear in the
/// text, which is also the order the executor binds them.
public protocol SQLDialect: Sendable {
    /// The parameter at `position` (1-based), in the order parameters appear in a statement.
    func parameter(_ position: Int) -> String
    /// The comparison that holds when both sides are NULL (SQL's `=` does not).
    var nullSafeEquals: String { get }
    /// The most parameters one statement may bind.
    var maximumParameters: Int { get }
}

extension SQLDialect {
    /// A quoted identifier: `"name"`, with any `"` doubled. The same on SQLite and PostgreSQL.
    public func quote(_ identifier: String) -> String { quoteIdentifier(identifier) }

    /// `INSERT INTO "t" ("a", "b") VALUES (?, ?)`; with `rows` > 1, one `(…)` per row (parameters
    /// row after row), and `RETURNING` the columns asked for.
    public func insert(_ table: String, columns: [String], rows: Int = 1, returning: [String] = []) -> String {
        var sql = "INSERT INTO \(quote(table)) (\(columns.map(quote).joined(separator: ", "))) VALUES "
        var position = 0
        for row in 0..<max(rows, 1) {
            if row > 0 { sql += ", " }
            sql += "("
            for column in columns.indices {
                position += 1
                if column > 0 { sql += ", " }
                sql += parameter(position)
            }
            sql += ")"
        }
        return sql + returningClause(returning)
    }

    /// `UPDATE "t" SET "a" = ?, … WHERE "key" = ?`, then the version check (`AND "version" = ?`,
    /// with the new version set among the assignments) and the compare-and-set of `compare`
    /// (`AND "col" IS ?` each, NULL-safe). Parameters: the set values, the new version, the key,
    /// the expected version, then each compared column's loaded value.
    public func update(
        _ table: String, set columns: [String], key: String, version: String?, compare: [String] = []
    ) -> String {
        var position = 0
        func next() -> String {
            position += 1
            return parameter(position)
        }
        var assignments = columns.map { "\(quote($0)) = \(next())" }
        if let version { assignments.append("\(quote(version)) = \(next())") }
        var sql = "UPDATE \(quote(table)) SET \(assignments.joined(separator: ", ")) WHERE \(quote(key)) = \(next())"
        if let version { sql += " AND \(quote(version)) = \(next())" }
        for column in compare { sql += " AND \(quote(column)) \(nullSafeEquals) \(next())" }
        return sql
    }

    /// `DELETE FROM "t" WHERE "key" = ?`, plus `AND "version" = ?` for a versioned row.
    public func delete(_ table: String, key: String, version: String?) -> String {
        var sql = "DELETE FROM \(quote(table)) WHERE \(quote(key)) = \(parameter(1))"
        if let version { sql += " AND \(quote(version)) = \(parameter(2))" }
        return sql
    }

    /// An insert that, on a conflict over `conflict`'s columns, updates the other columns (or does
    /// nothing), returning the row's key.
    public func upsert(
        _ table: String, columns: [String], conflict: [String], key: String, doNothing: Bool
    ) -> String {
        var sql = insert(table, columns: columns) + " ON CONFLICT (\(conflict.map(quote).joined(separator: ", "))) "
        let updated = columns.filter { !conflict.contains($0) && $0 != key }
        if doNothing || updated.isEmpty {
            sql += "DO NOTHING"
        } else {
            sql += "DO UPDATE SET " + updated.map { "\(quote($0)) = excluded.\(quote($0))" }.joined(separator: ", ")
        }
        return sql + returningClause([key])
    }

    /// `SELECT "a", "b" FROM "t" WHERE "key" = ?` (`SELECT 1 …` with no columns): how a stale
    /// write reads the row back.
    public func selectByKey(_ table: String, columns: [String], key: String) -> String {
        let list = columns.isEmpty ? "1" : columns.map(quote).joined(separator: ", ")
        return "SELECT \(list) FROM \(quote(table)) WHERE \(quote(key)) = \(parameter(1))"
    }

    /// How many rows of `columns` parameters each fit in one multi-row statement.
    public func rowsPerStatement(columns: Int) -> Int {
        max(1, maximumParameters / max(columns, 1))
    }

    private func returningClause(_ columns: [String]) -> String {
        columns.isEmpty ? "" : " RETURNING " + columns.map(quote).joined(separator: ", ")
    }
}

/// SQLite's dialect: `?` parameters, `IS` for NULL-safe comparison, and SQLite's default limit of
/// 32,766 parameters per statement (https://sqlite.org/limits.html#max_variable_number).
public struct SQLiteDialect: SQLDialect {
    public init() {}
    @inline(__always) public func parameter(_ position: Int) -> String { "?" }
    public var nullSafeEquals: String { "IS" }
    public var maximumParameters: Int { 32_766 }
}
