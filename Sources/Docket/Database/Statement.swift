import CSQLite
import Foundation

/// `SQLITE_TRANSIENT`: SQLite copies the bytes before the bind call returns. The C macro is not
/// importable into Swift.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement, owned by one ``Connection`` and used on that connection's thread only.
///
/// Statements from ``Connection/cachedStatement(_:)`` are reset and cleared for reuse each time
/// they are handed out; keep one only as long as the closure you got the connection in.
public final class Statement {
    let handle: OpaquePointer
    /// The SQL text the statement was prepared from.
    public let sql: String
    unowned let connection: Connection
    /// The connection's cancellation flag, checked on every step.
    let interruption: InterruptFlag
    /// Result column names, read once per preparation of the statement.
    public var columnNames: [String] {
        if let names = columnNamesStorage { return names }
        let names = (0..<columnCount).map { String(cString: sqlite3_column_name(handle, $0)) }
        columnNamesStorage = names
        return names
    }
    /// Result-column index by name (first occurrence wins), built once per preparation.
    var columnIndexByName: [String: Int32] {
        if let map = columnIndexStorage { return map }
        var map: [String: Int32] = [:]
        for (i, name) in columnNames.enumerated() where map[name] == nil { map[name] = Int32(i) }
        columnIndexStorage = map
        return map
    }
    /// Per-statement memo used by the model decoder (column index per decoded key, in order).
    var decodingPlan: AnyObject?
    private var columnNamesStorage: [String]?
    private var columnIndexStorage: [String: Int32]?
    /// How many times SQLite re-prepared the statement when the memos above were built. SQLite
    /// re-prepares a statement transparently after a schema change
    /// (https://sqlite.org/c3ref/prepare.html); `SELECT *` may then have other columns.
    private var memoGeneration: Int32 = 0

    /// `true` when `sql` holds more than this one statement (SQLite compiled only the first).
    let hasTrailingSQL: Bool

    init(connection: Connection, sql: String) throws {
        var stmt: OpaquePointer?
        var trailing = false
        let code = sql.withCString { start -> Int32 in
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v3(connection.handle, start, -1, 0, &stmt, &tail)
            // What follows the first statement is another statement unless it is only whitespace
            // and comments: compiling it then gives no statement at all.
            var rest = tail
            while code == SQLITE_OK, let current = rest, current.pointee != 0 {
                var next: OpaquePointer?
                var after: UnsafePointer<CChar>?
                let restCode = sqlite3_prepare_v3(connection.handle, current, -1, 0, &next, &after)
                if restCode != SQLITE_OK || next != nil {
                    sqlite3_finalize(next)
                    trailing = true
                    break
                }
                rest = after == current ? nil : after
            }
            return code
        }
        guard code == SQLITE_OK, let stmt else {
            throw DatabaseError(connection: connection.handle, code: code, sql: sql)
        }
        self.handle = stmt
        self.sql = sql
        self.connection = connection
        self.interruption = connection.interruption
        self.hasTrailingSQL = trailing
    }

    deinit { sqlite3_finalize(handle) }

    /// The number of result columns.
    public var columnCount: Int32 { sqlite3_column_count(handle) }
    /// The number of `?` parameters.
    public var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    // MARK: Binding (1-based parameter indexes, as in SQLite)

    /// Binds `value` to parameter `index` (1-based).
    public func bind(_ value: DatabaseValue, at index: Int32) throws {
        let code = Statement.bind(value, at: index, handle)
        guard code == SQLITE_OK else { throw DatabaseError(connection: connection.handle, code: code, sql: sql) }
    }

    /// Binds `value` to parameter `index` of statement `handle`; returns SQLite's result code.
    @inline(__always) static func bind(_ value: DatabaseValue, at index: Int32, _ handle: OpaquePointer) -> Int32 {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .integer(let v): sqlite3_bind_int64(handle, index, v)
        case .real(let v): sqlite3_bind_double(handle, index, v)
        case .text(let v): bindText(v, at: index, handle)
        case .blob(let v): bindBlob(v, at: index, handle)
        }
    }

    @inline(__always) static func bindText(_ text: String, at index: Int32, _ handle: OpaquePointer) -> Int32 {
        // Bind with the UTF-8 byte length, never -1: -1 stops at the first NUL and cuts the text.
        var text = text
        return text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                // An empty string may have no base address; "" keeps it TEXT rather than NULL.
                guard let base = chars.baseAddress else { return sqlite3_bind_text(handle, index, "", 0, nil) }
                return sqlite3_bind_text(handle, index, base, Int32(chars.count), sqliteTransient)
            }
        }
    }

    @inline(__always) static func bindBlob(_ data: Data, at index: Int32, _ handle: OpaquePointer) -> Int32 {
        data.withUnsafeBytes { buffer in
            // A zero-length blob with a NULL pointer would bind NULL; zeroblob(0) keeps it a BLOB.
            guard let base = buffer.baseAddress, buffer.count > 0 else {
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            return sqlite3_bind_blob(handle, index, base, Int32(buffer.count), sqliteTransient)
        }
    }

    /// Binds `values` to parameters 1…n.
    public func bind(_ values: [DatabaseValue]) throws {
        guard values.count == Int(parameterCount) else {
            throw DatabaseError(
                resultCode: SQLITE_RANGE,
                message: "the statement has \(parameterCount) parameters but \(values.count) values were given",
                sql: sql)
        }
        for (i, value) in values.enumerated() { try bind(value, at: Int32(i + 1)) }
    }

    /// Resets the statement and clears its bindings, ready for new arguments.
    /// Sets every parameter back to NULL.
    public func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Stepping

    /// Steps once. Returns `true` when a row is available, `false` when the statement is done.
    @discardableResult
    public func step() throws -> Bool {
        if interruption.isSet, sqlite3_stmt_busy(handle) == 0 {
            throw DatabaseError(resultCode: SQLITE_INTERRUPT, message: "interrupted: the task was cancelled", sql: sql)
        }
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            let generation = sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0)
            if generation != memoGeneration {
                memoGeneration = generation
                columnNamesStorage = nil
                columnIndexStorage = nil
                decodingPlan = nil
            }
            return true
        case SQLITE_DONE: return false
        case let code:
            let error = DatabaseError(connection: connection.handle, code: code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion, ignoring any rows, then resets it.
    public func run() throws {
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    // MARK: Reading the current row (0-based column indexes, as in SQLite)

    /// The storage class of a column of the current row (`SQLITE_INTEGER` … `SQLITE_NULL`).
    @inline(__always) public func columnType(_ index: Int32) -> Int32 { sqlite3_column_type(handle, index) }
    @inline(__always) public func int64(_ index: Int32) -> Int64 { sqlite3_column_int64(handle, index) }
    @inline(__always) public func double(_ index: Int32) -> Double { sqlite3_column_double(handle, index) }

    /// The column as text; `nil` if its bytes are not valid UTF-8.
    @inline(__always) public func text(_ index: Int32) -> String? { Statement.text(handle, index) }

    /// The text of column `index` of statement `handle`; `nil` if its bytes are not valid UTF-8.
    @inline(__always) static func text(_ handle: OpaquePointer, _ index: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index))
        let buffer = UnsafeBufferPointer(start: bytes, count: count)
        // `String(validating:)` runs unspecialized generic code (metadata look-ups on every call).
        // `String(decoding:)` is the fast path but repairs bad bytes instead of failing: keep its
        // result only if it holds exactly the bytes SQLite gave.
        var text = String(decoding: buffer, as: UTF8.self)
        let same = text.withUTF8 { utf8 in
            utf8.count == count && (count == 0 || memcmp(utf8.baseAddress!, bytes, count) == 0)
        }
        return same ? text : nil
    }

    @inline(__always) public func blob(_ index: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(handle, index))
        guard let bytes = sqlite3_column_blob(handle, index), count > 0 else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    /// The column as a ``DatabaseValue``; invalid UTF-8 text is returned as a BLOB so nothing is lost.
    public func value(_ index: Int32) -> DatabaseValue {
        switch columnType(index) {
        case SQLITE_INTEGER: return .integer(int64(index))
        case SQLITE_FLOAT: return .real(double(index))
        case SQLITE_TEXT: return text(index).map(DatabaseValue.text) ?? .blob(blob(index))
        case SQLITE_BLOB: return .blob(blob(index))
        default: return .null
        }
    }
}
