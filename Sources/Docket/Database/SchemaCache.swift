import Foundation

/// A table as SQLite describes it (`PRAGMA table_xinfo` and `PRAGMA foreign_key_list`).
public struct TableInfo: Sendable, Hashable {
    /// One column.
    public struct Column: Sendable, Hashable {
        public let name: String
        public let declaredType: String
        public let notNull: Bool
        public let hasDefault: Bool
        /// 1-based position in the primary key, 0 when not part of it.
        public let primaryKeyIndex: Int

        public init(name: String, declaredType: String, notNull: Bool, hasDefault: Bool, primaryKeyIndex: Int) {
            self.name = name
            self.declaredType = declaredType
            self.notNull = notNull
            self.hasDefault = hasDefault
            self.primaryKeyIndex = primaryKeyIndex
        }
    }
    /// One foreign key: `columns` of this table reference `parentColumns` of `parentTable`.
    public struct ForeignKey: Sendable, Hashable {
        public let parentTable: String
        public let columns: [String]
        /// Empty when the key references the parent's primary key implicitly.
        public let parentColumns: [String]
        /// Whether the backend can check this key at the end of the transaction instead of at each
        /// statement: every key on SQLite (`PRAGMA defer_foreign_keys`), only keys declared
        /// `DEFERRABLE` on PostgreSQL. The planner breaks a cycle by deferring only such a key, and
        /// otherwise by a post-update of a nullable column.
        public let isDeferrable: Bool

        public init(parentTable: String, columns: [String], parentColumns: [String], isDeferrable: Bool = true) {
            self.parentTable = parentTable
            self.columns = columns
            self.parentColumns = parentColumns
            self.isDeferrable = isDeferrable
        }
    }
    /// A UNIQUE constraint or unique index on plain columns (not the primary key, not an
    /// expression index).
    public struct UniqueIndex: Sendable, Hashable {
        /// The index name, as SQLite names it (`sqlite_autoindex_customers_1` for an inline UNIQUE).
        public let name: String
        public let columns: [String]

        public init(name: String, columns: [String]) {
            self.name = name
            self.columns = columns
        }
    }
    public let name: String
    public let columns: [Column]
    public let foreignKeys: [ForeignKey]
    public let uniqueIndexes: [UniqueIndex]
    /// Columns of this table that a foreign key (of any table) references.
    public let referencedColumns: Set<String>
    /// The text of the table's CHECK constraints, as written in its `CREATE TABLE` (empty: none).
    public let checks: String
    /// `true` when a trigger is defined on the table.
    public let hasTriggers: Bool

    public init(
        name: String, columns: [Column], foreignKeys: [ForeignKey], uniqueIndexes: [UniqueIndex] = [],
        referencedColumns: Set<String> = [], checks: String = "", hasTriggers: Bool = false
    ) {
        self.name = name
        self.columns = columns
        self.foreignKeys = foreignKeys
        self.uniqueIndexes = uniqueIndexes
        self.referencedColumns = referencedColumns
        self.checks = checks
        self.hasTriggers = hasTriggers
    }

    /// `true` when a CHECK constraint of the table may read `column` (a conservative, textual test).
    public func checkMentions(_ column: String) -> Bool {
        !checks.isEmpty && checks.range(of: column, options: .caseInsensitive) != nil
    }

    public func column(named name: String) -> Column? { columns.first { $0.name == name } }
    /// `true` when the table's primary key is its rowid alias (`INTEGER PRIMARY KEY`).
    public var hasIntegerPrimaryKey: Bool {
        let pk = columns.filter { $0.primaryKeyIndex > 0 }
        return pk.count == 1 && pk[0].declaredType.uppercased() == "INTEGER"
    }
}

/// Table metadata memoized per connection, and dropped whenever `PRAGMA schema_version` changes
/// (any migration or DDL, from this process or another one).
struct SchemaCache {
    private var version: Int64 = -1
    private var tables: [String: TableInfo] = [:]
    /// The planner's table orders for the fast insert path; emptied with `tables`.
    let insertRankMemo = InsertRankMemo()

    mutating func table(_ name: String, on connection: Connection) throws -> TableInfo {
        try checkVersion(on: connection)
        return try cachedTable(name, on: connection)
    }

    /// The tables named, and the parents their foreign keys reference (when they exist), checking
    /// the schema version once for all of them.
    mutating func tablesWithParents(_ names: [String], on connection: Connection) throws -> [String: TableInfo] {
        try checkVersion(on: connection)
        return try tablesWithParents(checked: names, on: connection)
    }

    /// The tables named and their parents, as ``tablesWithParents(_:on:)``, without checking the
    /// schema version: for a caller that just called ``checkVersion(on:)``.
    mutating func tablesWithParents(checked names: [String], on connection: Connection) throws -> [String: TableInfo] {
        var result: [String: TableInfo] = [:]
        for name in names where result[name] == nil {
            let info = try cachedTable(name, on: connection)
            result[name] = info
            for fk in info.foreignKeys where result[fk.parentTable] == nil {
                result[fk.parentTable] = try? cachedTable(fk.parentTable, on: connection)
            }
        }
        return result
    }

    /// Drops every memo when `PRAGMA schema_version` moved (a migration or any DDL, from any
    /// connection or process). One cached statement, run at most once per transaction while only
    /// jobs that keep the schema run (`Connection.schemaVerified`).
    mutating func checkVersion(on connection: Connection) throws {
        if connection.schemaVerified { return }
        let current = try connection.scalar("PRAGMA schema_version")
        if case .integer(let v) = current, v != version {
            version = v
            tables.removeAll()
            insertRankMemo.removeAll()
        }
        connection.schemaVerified = true
    }

    private mutating func cachedTable(_ name: String, on connection: Connection) throws -> TableInfo {
        if let info = tables[name] { return info }
        let info = try Self.load(name, on: connection)
        tables[name] = info
        return info
    }

    private static func load(_ name: String, on connection: Connection) throws -> TableInfo {
        let columns = try connection.fetchAll(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?)", [name]
        )
        .map { row in
            TableInfo.Column(
                name: row.values[0].textValue ?? "", declaredType: row.values[1].textValue ?? "",
                notNull: row.values[2] == .integer(1), hasDefault: !row.values[3].isNull,
                primaryKeyIndex: Int(row.values[4].integerValue ?? 0))
        }
        guard !columns.isEmpty else {
            throw DatabaseError(resultCode: 1, message: "no such table: \(name)")
        }
        var keys: [Int64: (parent: String, from: [String], to: [String])] = [:]
        for row in try connection.fetchAll(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq", [name])
        {
            let id = row.values[0].integerValue ?? 0
            var key = keys[id] ?? (row.values[1].textValue ?? "", [], [])
            key.from.append(row.values[2].textValue ?? "")
            if let to = row.values[3].textValue { key.to.append(to) }
            keys[id] = key
        }
        let foreignKeys = keys.keys.sorted().map { id in
            let key = keys[id]!
            return TableInfo.ForeignKey(parentTable: key.parent, columns: key.from, parentColumns: key.to)
        }
        var uniqueIndexes: [TableInfo.UniqueIndex] = []
        for row in try connection.fetchAll(
            "SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1 AND origin != 'pk' ORDER BY name", [name])
        {
            guard let index = row.values[0].textValue else { continue }
            let names = try connection.fetchAll("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [index])
                .map { $0.values[0].textValue }
            // An expression index has no column name: nothing to reason about.
            if !names.isEmpty, names.allSatisfy({ $0 != nil }) {
                uniqueIndexes.append(TableInfo.UniqueIndex(name: index, columns: names.map { $0! }))
            }
        }
        let primaryKey = columns.filter { $0.primaryKeyIndex > 0 }.map(\.name)
        var referenced: Set<String> = []
        for row in try connection.fetchAll(
            """
            SELECT p."to" FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS p
            WHERE m.type = 'table' AND p."table" = ? COLLATE NOCASE
            """, [name])
        {
            if let column = row.values[0].textValue {
                referenced.insert(column)
            } else {
                referenced.formUnion(primaryKey)
            }
        }
        let sql =
            try connection.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
            .textValue ?? ""
        let checks = sql.range(of: "CHECK", options: .caseInsensitive).map { String(sql[$0.lowerBound...]) } ?? ""
        let hasTriggers =
            try connection.scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE)",
                [name]) == .integer(1)
        return TableInfo(
            name: name, columns: columns, foreignKeys: foreignKeys, uniqueIndexes: uniqueIndexes,
            referencedColumns: referenced, checks: checks, hasTriggers: hasTriggers)
    }
}
