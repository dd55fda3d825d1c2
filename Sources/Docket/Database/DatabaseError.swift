import CSQLite
import Foundation

/// An error reported by SQLite, with everything needed to act on it.
///
/// It carries SQLite's primary and extended result codes, SQLite's own message, the SQL that
/// failed and, for constraint violations, which constraint failed and where:
///
/// ```swift
/// do {
///     try await db.write { try $0.execute("INSERT INTO books (isbn) VALUES (?)", ["978-0"]) }
/// } catch let error as DatabaseError where error.constraint?.kind == .unique {
///     print(error.constraint!.columns)  // ["isbn"]
/// }
/// ```
public struct DatabaseError: Error, Sendable, CustomStringConvertible, Equatable {
    /// SQLite's primary result code, e.g. `SQLITE_CONSTRAINT` (19).
    public let resultCode: Int32
    /// SQLite's extended result code, e.g. `SQLITE_CONSTRAINT_UNIQUE` (2067).
    public let extendedResultCode: Int32
    /// SQLite's message, or Docket's when Docket raised the error.
    public let message: String
    /// The SQL that failed, when there was one.
    public let sql: String?
    /// What Docket was doing, e.g. "inserting Book #3 into books"; set by higher layers.
    public var context: String?
    /// The queued change at fault, e.g. `Book #3` (a unit of work's commit only).
    public var change: String?
    /// The table of the row at fault, when Docket knows it (every failure of a unit of work's
    /// commit), even where SQLite's message does not name it (CHECK, FOREIGN KEY).
    public var table: String?
    /// The primary key of the row at fault, when it has one (a generated key is not known yet).
    public var key: DatabaseValue?
    /// The columns at fault that Docket found beyond SQLite's message: a FOREIGN KEY failure's
    /// column, say.
    public var columns: [String] = []
    /// For a FOREIGN KEY failure Docket explained: the table the row references (or, for a delete,
    /// that still references it).
    public var referencedTable: String?
    /// `true` when the `COMMIT` itself failed with an I/O error or a full disk, after some or all of
    /// its frames may have reached the `-wal`: the commit may or may not be in the file after a crash
    /// or restart. A caller must not assume that nothing landed: check for the rows, or retry in a
    /// way that is safe to repeat.
    public var isCommitOutcomeUnknown = false
    /// The error's own code on a backend other than SQLite: PostgreSQL's SQLSTATE, e.g. `23505`.
    /// `resultCode` and `extendedResultCode` then hold the SQLite code of the same kind
    /// (`SQLITE_CONSTRAINT_UNIQUE` for 23505), so one `catch` serves both backends.
    public var sqlState: String?
    /// The violated constraint's name, where the backend reports it (PostgreSQL does).
    public var constraintName: String?

    /// `true` when the transaction lost a race that running it again can win: PostgreSQL's
    /// serialization failure (40001) or deadlock (40P01). ``RetryPolicy`` retries these.
    public var isRetryableConflict: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// For a constraint violation: its kind, table and columns, from SQLite's report and what
    /// Docket knows of the row at fault.
    ///
    /// ```swift
    /// switch error.constraint?.kind {
    /// case .unique?: …                 // error.constraint!.columns == ["isbn"]
    /// case .foreignKey?: …             // error.constraint!.table == "books", .columns == ["author_id"]
    /// default: throw error
    /// }
    /// ```
    public var constraint: ConstraintViolation? {
        guard var violation = ConstraintViolation(extendedResultCode: extendedResultCode, message: message) else {
            return nil
        }
        if violation.table == nil { violation.table = table }
        if violation.columns.isEmpty { violation.columns = columns }
        if violation.referencedTable == nil { violation.referencedTable = referencedTable }
        if let constraintName { violation.name = constraintName }
        violation.key = key
        return violation
    }

    public init(
        resultCode: Int32, extendedResultCode: Int32? = nil, message: String, sql: String? = nil,
        context: String? = nil
    ) {
        self.resultCode = resultCode
        self.extendedResultCode = extendedResultCode ?? resultCode
        self.message = message
        self.sql = sql
        self.context = context
    }

    /// An error reported by a backend other than SQLite, under its own code (`sqlState`) and, in
    /// `resultCode` and `extendedResultCode`, the SQLite code of the same kind: a constraint's, or
    /// `SQLITE_BUSY` for a conflict that a retry can cure, or `SQLITE_ERROR`.
    public init(
        sqlState: String, message: String, constraint kind: ConstraintViolation.Kind? = nil, sql: String? = nil
    ) {
        let extended: Int32 =
            switch kind {
            case .unique?: SQLITE_CONSTRAINT_UNIQUE
            case .primaryKey?: SQLITE_CONSTRAINT_PRIMARYKEY
            case .notNull?: SQLITE_CONSTRAINT_NOTNULL
            case .check?: SQLITE_CONSTRAINT_CHECK
            case .foreignKey?: SQLITE_CONSTRAINT_FOREIGNKEY
            case .trigger?: SQLITE_CONSTRAINT_TRIGGER
            case .other?: SQLITE_CONSTRAINT
            case nil: sqlState == "40001" || sqlState == "40P01" ? SQLITE_BUSY : SQLITE_ERROR
            }
        self.init(resultCode: extended & 0xFF, extendedResultCode: extended, message: message, sql: sql)
        self.sqlState = sqlState
    }

    /// Reads the error state of a connection after a call returned `code`.
    init(connection: OpaquePointer?, code: Int32, sql: String?) {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        self.init(
            resultCode: code & 0xFF,
            extendedResultCode: (extended & 0xFF) == (code & 0xFF) ? extended : code,
            message: message ?? String(cString: sqlite3_errstr(code)),
            sql: sql)
    }

    /// A misuse of Docket's API, e.g. calling `write` from inside `write`.
    static func misuse(_ message: String) -> DatabaseError {
        DatabaseError(resultCode: SQLITE_MISUSE, message: message)
    }

    /// SQLite's symbolic name of the extended result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
    public var codeName: String { resultCodeName(extendedResultCode) }

    public var description: String {
        var text = ""
        if let context { text += context + ": " }
        text += message + (sqlState.map { " (SQLSTATE \($0))" } ?? " (\(codeName))")
        if let sql { text += " in SQL: \(sql)" }
        return text
    }

    /// Returns a copy with `context` set, keeping an existing, more specific context.
    func adding(context newContext: String) -> DatabaseError {
        var copy = self
        copy.context = context.map { newContext + ": " + $0 } ?? newContext
        return copy
    }

    /// Returns a copy that names the queued change at fault: its label, table and key.
    func attributed(to change: RowChange) -> DatabaseError {
        var copy = self
        copy.change = copy.change ?? "\(change.model) #\(change.index + 1)"
        copy.table = copy.table ?? change.table
        if copy.key == nil, !change.key.isNull { copy.key = change.key }
        return copy
    }
}

/// Which constraint a statement violated, parsed from SQLite's result code and message.
public struct ConstraintViolation: Sendable, Equatable {
    /// The kinds of constraint SQLite reports separately.
    public enum Kind: String, Sendable {
        case unique = "UNIQUE"
        case primaryKey = "PRIMARY KEY"
        case notNull = "NOT NULL"
        case check = "CHECK"
        case foreignKey = "FOREIGN KEY"
        case trigger = "TRIGGER"
        case other = "constraint"
    }
    public let kind: Kind
    /// The table: as SQLite names it (UNIQUE, PRIMARY KEY, NOT NULL), else the table of the queued
    /// row at fault (CHECK, FOREIGN KEY), when the error came from a unit of work's commit.
    public internal(set) var table: String?
    /// The columns: as SQLite names them (UNIQUE, PRIMARY KEY, NOT NULL), else the foreign-key
    /// column Docket found at fault.
    public internal(set) var columns: [String]
    /// The constraint's name or expression: for CHECK constraints on SQLite, and for every kind on
    /// PostgreSQL, which names them all.
    public internal(set) var name: String?
    /// The primary key of the row at fault, when known.
    public internal(set) var key: DatabaseValue?
    /// For FOREIGN KEY: the table referenced, when Docket found it.
    public internal(set) var referencedTable: String?

    init?(extendedResultCode code: Int32, message: String) {
        guard code & 0xFF == SQLITE_CONSTRAINT else { return nil }
        switch code {
        case SQLITE_CONSTRAINT_UNIQUE: kind = .unique
        case SQLITE_CONSTRAINT_PRIMARYKEY: kind = .primaryKey
        case SQLITE_CONSTRAINT_NOTNULL: kind = .notNull
        case SQLITE_CONSTRAINT_CHECK: kind = .check
        case SQLITE_CONSTRAINT_FOREIGNKEY: kind = .foreignKey
        case SQLITE_CONSTRAINT_TRIGGER: kind = .trigger
        default: kind = .other
        }
        // Messages look like "UNIQUE constraint failed: books.isbn, books.edition" or
        // "CHECK constraint failed: pages_positive" (https://sqlite.org/rescode.html#constraint).
        let detail = message.range(of: "constraint failed: ").map { String(message[$0.upperBound...]) }
        switch kind {
        case .unique, .primaryKey, .notNull:
            let parts = (detail ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let qualified = parts.compactMap { part -> (String, String)? in
                guard let dot = part.lastIndex(of: ".") else { return nil }
                return (String(part[..<dot]), String(part[part.index(after: dot)...]))
            }
            table = qualified.first?.0
            columns = qualified.map(\.1)
            name = nil
        default:
            table = nil
            columns = []
            name = detail
        }
    }
}

/// SQLite's symbolic name for a (primary or extended) result code.
func resultCodeName(_ code: Int32) -> String {
    resultCodeNames[code] ?? resultCodeNames[code & 0xFF].map { "\($0) (\(code))" } ?? "SQLite code \(code)"
}

/// Built once, not at every call.
private let resultCodeNames: [Int32: String] = [
    SQLITE_ERROR: "SQLITE_ERROR", SQLITE_INTERNAL: "SQLITE_INTERNAL", SQLITE_PERM: "SQLITE_PERM",
    SQLITE_ABORT: "SQLITE_ABORT", SQLITE_BUSY: "SQLITE_BUSY", SQLITE_LOCKED: "SQLITE_LOCKED",
    SQLITE_NOMEM: "SQLITE_NOMEM", SQLITE_READONLY: "SQLITE_READONLY", SQLITE_INTERRUPT: "SQLITE_INTERRUPT",
    SQLITE_IOERR: "SQLITE_IOERR", SQLITE_CORRUPT: "SQLITE_CORRUPT", SQLITE_FULL: "SQLITE_FULL",
    SQLITE_CANTOPEN: "SQLITE_CANTOPEN", SQLITE_PROTOCOL: "SQLITE_PROTOCOL", SQLITE_SCHEMA: "SQLITE_SCHEMA",
    SQLITE_TOOBIG: "SQLITE_TOOBIG", SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT", SQLITE_MISMATCH: "SQLITE_MISMATCH",
    SQLITE_MISUSE: "SQLITE_MISUSE", SQLITE_RANGE: "SQLITE_RANGE", SQLITE_NOTADB: "SQLITE_NOTADB",
    SQLITE_CONSTRAINT_UNIQUE: "SQLITE_CONSTRAINT_UNIQUE",
    SQLITE_CONSTRAINT_PRIMARYKEY: "SQLITE_CONSTRAINT_PRIMARYKEY",
    SQLITE_CONSTRAINT_NOTNULL: "SQLITE_CONSTRAINT_NOTNULL", SQLITE_CONSTRAINT_CHECK: "SQLITE_CONSTRAINT_CHECK",
    SQLITE_CONSTRAINT_FOREIGNKEY: "SQLITE_CONSTRAINT_FOREIGNKEY",
    SQLITE_CONSTRAINT_TRIGGER: "SQLITE_CONSTRAINT_TRIGGER",
    SQLITE_READONLY_DBMOVED: "SQLITE_READONLY_DBMOVED", SQLITE_IOERR_WRITE: "SQLITE_IOERR_WRITE",
    SQLITE_IOERR_FSYNC: "SQLITE_IOERR_FSYNC", SQLITE_IOERR_READ: "SQLITE_IOERR_READ",
    SQLITE_IOERR_DIR_FSYNC: "SQLITE_IOERR_DIR_FSYNC",
    SQLITE_BUSY_SNAPSHOT: "SQLITE_BUSY_SNAPSHOT", SQLITE_CANTOPEN_ISDIR: "SQLITE_CANTOPEN_ISDIR",
]

// SQLite's extended result codes are C macros built from expressions, which Swift cannot import
// (https://sqlite.org/rescode.html#extrc). They keep SQLite's names, hence the lint exceptions.
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_CHECK: Int32 = SQLITE_CONSTRAINT | (1 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_FOREIGNKEY: Int32 = SQLITE_CONSTRAINT | (3 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_NOTNULL: Int32 = SQLITE_CONSTRAINT | (5 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_PRIMARYKEY: Int32 = SQLITE_CONSTRAINT | (6 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_TRIGGER: Int32 = SQLITE_CONSTRAINT | (7 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CONSTRAINT_UNIQUE: Int32 = SQLITE_CONSTRAINT | (8 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_READONLY_DBMOVED: Int32 = SQLITE_READONLY | (4 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_IOERR_READ: Int32 = SQLITE_IOERR | (1 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_IOERR_WRITE: Int32 = SQLITE_IOERR | (3 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_IOERR_FSYNC: Int32 = SQLITE_IOERR | (4 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_IOERR_DIR_FSYNC: Int32 = SQLITE_IOERR | (5 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_BUSY_SNAPSHOT: Int32 = SQLITE_BUSY | (2 << 8)
// swift-format-ignore: AlwaysUseLowerCamelCase
let SQLITE_CANTOPEN_ISDIR: Int32 = SQLITE_CANTOPEN | (2 << 8)
