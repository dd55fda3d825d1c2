import CSQLite
import Foundation

/// A read of one model's table: filter, order, limit, then fetch. Values are always bound as
/// arguments, never interpolated into the SQL.
///
/// ```swift
/// let long = try await db.read { db in
///     try Book.all().filter("pages > ?", [300]).order("title").limit(10).fetchAll(db)
/// }
/// // SELECT * FROM "books" WHERE (pages > ?) ORDER BY title LIMIT 10
/// ```
public struct Query<M: Model>: Sendable {
    var filters: [String] = []
    var arguments: [DatabaseValue] = []
    var ordering: String?
    var limit: Int?
    var offset: Int?
    /// The first fragment refused by ``SQLFragment``: every fetch throws it.
    var invalidFragment: DatabaseError?

    /// Throws the refused fragment's error, if any.
    func checked() throws {
        if let invalidFragment { throw invalidFragment }
    }

    private func checking(_ fragment: String, clause: String) -> Query {
        guard invalidFragment == nil, let problem = SQLFragment.problem(fragment) else { return self }
        var copy = self
        copy.invalidFragment = SQLFragment.error(fragment, clause: clause, problem: problem)
        return copy
    }

    /// Adds a WHERE condition (ANDed with earlier ones), with `?` placeholders for `arguments`.
    ///
    /// The condition is one SQL expression: a fetch of a query whose fragment holds `;` (another
    /// statement), a `--` comment, or an unterminated quote or comment throws, and runs nothing.
    public func filter(_ condition: String, _ arguments: [any DatabaseValueConvertible] = []) -> Query {
        var copy = checking(condition, clause: "filter")
        copy.filters.append(condition)
        copy.arguments += arguments.map { $0.databaseValue }
        return copy
    }

    /// Sets the ORDER BY clause, e.g. `"title"` or `"pages DESC, id"`.
    public func order(_ ordering: String) -> Query {
        var copy = checking(ordering, clause: "order")
        copy.ordering = ordering
        return copy
    }

    /// Sets LIMIT and, optionally, OFFSET.
    public func limit(_ limit: Int, offset: Int? = nil) -> Query {
        var copy = self
        copy.limit = limit
        copy.offset = offset
        return copy
    }

    /// The SELECT this query runs.
    public var sql: String { sql(selecting: "*") }

    func sql(selecting selection: String) -> String {
        var sql = "SELECT \(selection) FROM \(quoteIdentifier(M.tableName))"
        if !filters.isEmpty { sql += " WHERE " + filters.map { "(\($0))" }.joined(separator: " AND ") }
        if let ordering { sql += " ORDER BY \(ordering)" }
        if let limit { sql += " LIMIT \(limit)" }
        if let offset { sql += (limit == nil ? " LIMIT -1" : "") + " OFFSET \(offset)" }
        return sql
    }

    /// Every matching row, decoded.
    public func fetchAll(_ db: Connection) throws -> [M] {
        try checked()
        return try M.fetchAll(db, sql: sql, arguments)
    }

    /// The matching rows and, for a model with an integer key, each row's key read straight from
    /// its column (`nil` when the key is not an integer or a row's key column is not INTEGER): the
    /// unit of work's identity map then needs no generic key encoding per row.
    func fetchAllWithKeys(_ db: Connection) throws -> (models: [M], keys: [Int64]?, snapshot: [M]?) {
        try checked()
        return try M.fetchAll(
            db, sql: sql, arguments, collectingKeys: M.ID.generated(rowID: 1) != nil, keepingSnapshot: true)
    }

    /// The first matching row, decoded, or `nil`.
    public func fetchOne(_ db: Connection) throws -> M? {
        try checked()
        var query = self
        query.limit = 1
        return try M.fetchAll(db, sql: query.sql, arguments).first
    }

    /// The number of matching rows (LIMIT and OFFSET apply).
    public func fetchCount(_ db: Connection) throws -> Int {
        try checked()
        let inner = sql(selecting: "1")
        let count = try db.scalar("SELECT count(*) FROM (\(inner))", arguments)
        return Int(count.integerValue ?? 0)
    }

    /// `true` when at least one row matches.
    public func exists(_ db: Connection) throws -> Bool {
        try checked()
        return try db.scalar("SELECT EXISTS (\(sql(selecting: "1")))", arguments) == .integer(1)
    }
}

extension Model {
    /// A query of every row of the table, to refine with `filter`, `order` and `limit`.
    public static func all() -> Query<Self> { Query() }

    /// A query with a WHERE condition: `Book.filter("author_id = ?", [id])`.
    public static func filter(_ condition: String, _ arguments: [any DatabaseValueConvertible] = []) -> Query<Self> {
        Query().filter(condition, arguments)
    }

    /// The row whose primary key is `id`, or `nil`.
    ///
    /// ```swift
    /// let book = try await db.read { try Book.find(42, in: $0) }
    /// // SELECT * FROM "books" WHERE "id" = ?
    /// ```
    public static func find(_ id: ID, in db: Connection) throws -> Self? {
        let key = try encodeKey(id)
        return try fetchAll(
            db, sql: "SELECT * FROM \(quoteIdentifier(tableName)) WHERE \(quoteIdentifier(primaryKeyColumn)) = ?", [key]
        ).first
    }

    /// Every row of the table.
    public static func fetchAll(_ db: Connection) throws -> [Self] { try all().fetchAll(db) }

    /// The number of rows in the table.
    public static func fetchCount(_ db: Connection) throws -> Int { try all().fetchCount(db) }

    /// Decodes every row of any SQL query whose columns match the model's.
    ///
    /// ```swift
    /// let books = try Book.fetchAll(db, sql: "SELECT b.* FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ?", ["Le Guin"])
    /// ```
    public static func fetchAll(
        _ db: Connection, sql: String, _ arguments: [any DatabaseValueConvertible] = []
    ) throws -> [Self] {
        try fetchAll(db, sql: sql, arguments, collectingKeys: false, keepingSnapshot: false).models
    }

    static func fetchAll(
        _ db: Connection, sql: String, _ arguments: [any DatabaseValueConvertible], collectingKeys: Bool,
        keepingSnapshot: Bool
    ) throws -> (models: [Self], keys: [Int64]?, snapshot: [Self]?) {
        db.logger?.debug("\(sql)")
        let statement = try db.cachedStatement(sql)
        try statement.bind(arguments.map { $0.databaseValue })
        defer { statement.reset() }
        let rows = RowCursor(
            statement: statement, model: Self.self, collectingKeys: collectingKeys, keepingSnapshot: keepingSnapshot)
        defer { rows.finish() }
        do {
            let models = try decodeRows(rows)
            return (models, rows.keys, rows.snapshot as? [Self])
        } catch let error as DecodingError {
            throw rows.decoder.explained(error)
        }
    }

    /// The key as bound in SQL, encoded with the model's strategies (UUID as text or blob).
    @usableFromInline static func encodeKey(_ id: ID) throws -> DatabaseValue {
        if let value = id.keyValue(mappingOptions) { return value }
        return try ValueEncoding.databaseValue(
            id, options: mappingOptions, json: JSONEncoder(),
            fail: { MappingError(model: "\(Self.self)", column: "\(tableName).\(primaryKeyColumn)", message: $0) })
    }
}

/// `"name"`, with embedded quotes doubled (https://sqlite.org/lang_keywords.html).
func quoteIdentifier(_ name: String) -> String {
    // Foundation's replacingOccurrences costs a microsecond even when there is nothing to replace.
    guard name.utf8.contains(UInt8(ascii: "\"")) else { return "\"" + name + "\"" }
    return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
