import CSQLite
import Foundation
import Logging
import Synchronization

/// One SQLite connection (one `sqlite3*`).
///
/// You never create or keep a connection: a ``Database`` owns them all and lends one to the closure
/// you pass to ``Database/read(_:)-(Connection)->T`` or ``Database/write(_:)-(Connection)->T``, on a
/// thread Docket owns. The connection is opened with `SQLITE_OPEN_NOMUTEX` (multi-thread mode,
/// https://sqlite.org/threadsafe.html): SQLite does not lock it, because Docket guarantees that only
/// one thread uses it at a time. It is not `Sendable`, so it cannot escape to another task.
public final class Connection {
    let handle: OpaquePointer
    /// The database file's path.
    public let path: String
    private var cache: StatementCache
    let logger: Logger?
    /// Set by a cancelled job; checked before each statement starts (see `Statement.step`). Shared
    /// with the connection's statements, which hold it strongly: reaching it through their
    /// `unowned` connection would cost a checked retain on every step.
    let interruption = InterruptFlag()
    /// Per-connection memo of table metadata (see `SchemaCache`).
    var schemaCache = SchemaCache()
    /// The SQL text this connection speaks (the unit of work's statements are built from it).
    let dialect = SQLiteDialect()
    /// `true` while the schema version `schemaCache` last read still holds, so it need not be read
    /// again: set by `SchemaCache.checkVersion`, cleared by the connection's loop whenever a
    /// transaction starts and before any job that might change the schema (see `Job.keepsSchema`).
    /// Within a transaction, only this connection could change the schema.
    var schemaVerified = false
    /// The writer's encoders, one per model type, reused by every flush (see `ModelEncoder.reused`).
    var encoders: [ObjectIdentifier: AnyObject] = [:]
    private let trace: (@Sendable (TraceEvent) -> Void)?
    let isWriter: Bool
    /// The state of the busy handler (``busyHandler``): how long to wait for another process's lock.
    let busyWait = BusyWait()

    /// Opens a connection. `readOnly` connections refuse writes through `PRAGMA query_only`.
    init(path: String, configuration: Configuration, readOnly: Bool) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let code = sqlite3_open_v2(path, &db, flags, configuration.vfsName)
        guard code == SQLITE_OK, let db else {
            var error = DatabaseError(connection: db, code: code, sql: nil)
            if code == SQLITE_CANTOPEN {
                let folder = (path as NSString).deletingLastPathComponent
                var isDirectory: ObjCBool = false
                let reason =
                    !folder.isEmpty && !(FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory))
                    ? "the folder \(folder) does not exist" : "check the path and its permissions"
                error = DatabaseError(
                    resultCode: code, extendedResultCode: error.extendedResultCode,
                    message: "unable to open database file \(path): \(reason)")
            }
            sqlite3_close_v2(db)
            throw error
        }
        self.handle = db
        self.path = path
        self.cache = StatementCache(capacity: configuration.statementCacheCapacity)
        self.logger = configuration.logger
        self.trace = configuration.trace
        self.isWriter = !readOnly
        sqlite3_extended_result_codes(db, 1)
        if trace != nil {
            // The context is this connection, which outlives its handle (close() runs before deinit).
            sqlite3_trace_v2(
                db, UInt32(SQLITE_TRACE_STMT),
                { _, context, _, sql in
                    guard let context, let sql else { return 0 }
                    let connection = Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue()
                    let text = String(cString: sql.assumingMemoryBound(to: CChar.self))
                    // Statements run by triggers are reported as "-- comment" lines: skip them.
                    if !text.hasPrefix("--") { connection.trace?(TraceEvent(sql: text, isWriter: connection.isWriter)) }
                    return 0
                }, Unmanaged.passUnretained(self).toOpaque())
        }
        do {
            try configure(configuration, readOnly: readOnly)
            // SQLite opens a file it may not write read-only, without an error: the writer would
            // then fail at its first write (a migration's first statement, say). Say so at open.
            if !readOnly && sqlite3_db_readonly(db, "main") == 1 {
                throw DatabaseError(resultCode: SQLITE_READONLY, message: "attempt to write a readonly database")
            }
        } catch let error as DatabaseError {
            let fileIsReadOnly = !readOnly && sqlite3_db_readonly(db, "main") == 1
            cache.removeAll()
            sqlite3_close_v2(db)
            // A file this process may write that SQLite still opens read-only has a header SQLite
            // cannot write (garbage after "SQLite format 3"): that is a damaged file, not permissions.
            if fileIsReadOnly || (!readOnly && error.resultCode == SQLITE_READONLY),
                let header = Self.damagedHeader(path)
            {
                throw DatabaseError(
                    resultCode: SQLITE_NOTADB, extendedResultCode: SQLITE_NOTADB,
                    message: "\(path) is corrupt or not a SQLite database: \(header) (SQLite said: \(error.message))",
                    sql: error.sql)
            }
            if fileIsReadOnly || (!readOnly && error.resultCode == SQLITE_READONLY) {
                throw DatabaseError(
                    resultCode: SQLITE_READONLY, extendedResultCode: error.extendedResultCode,
                    message: "\(path) is read-only: Docket's writer must be able to write the database file and "
                        + "create its -wal and -shm files beside it; check the permissions of the file and its folder "
                        + "(SQLite said: \(error.message))",
                    sql: error.sql)
            }
            if error.resultCode == SQLITE_NOTADB {
                throw DatabaseError(
                    resultCode: error.resultCode, extendedResultCode: error.extendedResultCode,
                    message: "\(path) is not a SQLite database (\(error.message))", sql: error.sql)
            }
            throw error
        }
    }

    /// What is wrong with the header of a file this process may write, when SQLite opened it
    /// read-only because of its header (https://sqlite.org/fileformat.html#file_format_version_numbers),
    /// else `nil` (then read-only means permissions).
    static func damagedHeader(_ path: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        guard access(path, W_OK) == 0, access(folder.isEmpty ? "." : folder, W_OK) == 0,
            let file = FileHandle(forReadingAtPath: path)
        else { return nil }
        defer { try? file.close() }
        guard let header = try? file.read(upToCount: 100), header.count >= 20 else { return nil }
        let write = header[header.startIndex + 18]
        let read = header[header.startIndex + 19]
        guard !(1...2).contains(write) || !(1...2).contains(read) else { return nil }
        return "its header's file format versions are \(write) (write) and \(read) (read), where SQLite writes 1 "
            + "or 2; the bytes after \"SQLite format 3\" are not a database header"
    }

    private func configure(_ configuration: Configuration, readOnly: Bool) throws {
        // Waiting for another process's lock: short, jittered sleeps until the deadline, instead of
        // sqlite3_busy_timeout's sleeps that grow to 100 ms (https://sqlite.org/c3ref/busy_handler.html).
        // Several processes writing one file then take turns within milliseconds, and a writer
        // waiting here lets its queue fill, so the next group commits more at once.
        busyWait.timeout = configuration.busyTimeout
        busyWait.interruption = interruption
        sqlite3_busy_handler(handle, busyHandler, Unmanaged.passUnretained(busyWait).toOpaque())
        if !readOnly {
            // WAL lets readers run alongside the one writer (https://sqlite.org/wal.html). The mode is
            // persistent, so the writer sets it once and readers inherit it.
            let mode = try switchingToWAL(deadline: ContinuousClock.now + configuration.busyTimeout)
            guard mode == .text("wal") else {
                throw DatabaseError(
                    resultCode: SQLITE_ERROR, message: "could not switch \(path) to WAL mode (got \(mode ?? .null))")
            }
        } else {
            // Touch the schema so a file that is not a database fails here, at open.
            try execute("SELECT count(*) FROM sqlite_master")
        }
        try execute("PRAGMA synchronous = \(configuration.synchronous.rawValue)")
        try execute("PRAGMA foreign_keys = \(configuration.foreignKeys ? "ON" : "OFF")")
        if readOnly { try execute("PRAGMA query_only = ON") }
        try configuration.prepareConnection?(self)
    }

    /// `PRAGMA journal_mode = WAL`, again after a short sleep while it reports SQLITE_BUSY, until
    /// `deadline`. Two processes opening a new file at once both switch it: one may then hold a
    /// shared lock the other must wait out, and SQLite answers BUSY at once instead of calling the
    /// busy handler (it would be a deadlock), so the wait is here.
    private func switchingToWAL(deadline: ContinuousClock.Instant) throws -> DatabaseValue? {
        var sleep = 100
        while true {
            do {
                return try fetchAll("PRAGMA journal_mode = WAL").first?[0]
            } catch let error as DatabaseError where error.resultCode == SQLITE_BUSY && ContinuousClock.now < deadline {
                usleep(UInt32(Int.random(in: sleep / 2...sleep)))
                sleep = min(sleep * 2, 10_000)
            }
        }
    }

    /// Closes the connection, finalizing its cached statements first.
    func close() {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    // MARK: Statements

    /// A prepared statement for `sql`, from this connection's bounded statement cache.
    ///
    /// The statement is reset and its bindings cleared. If the cached statement is still running
    /// (a nested use of the same SQL), a fresh, uncached statement is returned instead.
    public func cachedStatement(_ sql: String) throws -> Statement {
        try cachedStatement(sql, unlessScript: false)!
    }

    /// The cached statement for `sql`; with `unlessScript`, `nil` when `sql` holds several statements.
    private func cachedStatement(_ sql: String, unlessScript: Bool) throws -> Statement? {
        if let statement = cache.statement(for: sql) {
            if sqlite3_stmt_busy(statement.handle) != 0 { return try Statement(connection: self, sql: sql) }
            sqlite3_reset(statement.handle)
            sqlite3_clear_bindings(statement.handle)
            return statement
        }
        let statement = try Statement(connection: self, sql: sql)
        if statement.hasTrailingSQL {
            if unlessScript { return nil }
            throw Self.severalStatements(sql)
        }
        cache.insert(statement)
        return statement
    }

    /// SQLite compiles the first statement of a string and ignores the rest: Docket refuses the
    /// string instead of running part of it.
    static func severalStatements(_ sql: String) -> DatabaseError {
        DatabaseError(
            resultCode: SQLITE_MISUSE,
            message: "the SQL holds more than one statement, and only a single statement can take arguments or "
                + "return rows: run a script with execute(_:) (no arguments), or one statement per call. Nothing "
                + "was run", sql: sql)
    }

    /// A new prepared statement that is not cached. Throws (`SQLITE_MISUSE`) when `sql` holds more
    /// than one statement.
    public func makeStatement(_ sql: String) throws -> Statement {
        let statement = try Statement(connection: self, sql: sql)
        if statement.hasTrailingSQL { throw Self.severalStatements(sql) }
        return statement
    }

    /// The number of statements in the cache (for tests and diagnostics).
    public var cachedStatementCount: Int { cache.count }

    /// Runs `body` inside `SAVEPOINT`: if it throws, what it wrote is rolled back (and the error
    /// rethrown); the enclosing transaction, if any, stays open. A unit of work committed inside a
    /// write job flushes this way.
    func inSavepoint<T>(_ body: (Connection) throws -> T) throws -> T {
        try execute("SAVEPOINT docket_unit_of_work")
        do {
            let result = try body(self)
            try execute("RELEASE docket_unit_of_work")
            return result
        } catch {
            try? execute("ROLLBACK TO docket_unit_of_work")
            try? execute("RELEASE docket_unit_of_work")
            throw error
        }
    }

    /// Copies this connection's database, as its current transaction sees it, into a new file at
    /// `path` (SQLite's online backup API, every page in one step). A partial file is removed when
    /// the copy fails.
    func backup(to path: String) throws {
        var destination: OpaquePointer?
        let openCode = sqlite3_open_v2(path, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard openCode == SQLITE_OK, let destination else {
            let error = DatabaseError(connection: destination, code: openCode, sql: nil)
            sqlite3_close_v2(destination)
            throw DatabaseError(resultCode: error.resultCode, message: "cannot back up to \(path): \(error.message)")
        }
        var failure: DatabaseError?
        if let backup = sqlite3_backup_init(destination, "main", handle, "main") {
            let step = sqlite3_backup_step(backup, -1)
            let finish = sqlite3_backup_finish(backup)
            if step != SQLITE_DONE || finish != SQLITE_OK {
                let code = step != SQLITE_DONE ? step : finish
                failure = DatabaseError(
                    resultCode: code & 0xFF, extendedResultCode: code,
                    message: "backing up \(self.path) to \(path) failed: \(String(cString: sqlite3_errstr(code)))")
            }
        } else {
            failure = DatabaseError(connection: destination, code: sqlite3_errcode(destination), sql: nil)
        }
        sqlite3_close_v2(destination)
        if let failure {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                try? FileManager.default.removeItem(atPath: path + suffix)
            }
            throw failure
        }
    }

    /// Runs one statement with bound arguments.
    ///
    /// ```swift
    /// try db.blocking.write { try $0.execute("UPDATE books SET stock = stock - ? WHERE id = ?", [1, 42]) }
    /// ```
    public func execute(_ sql: String, _ arguments: [any DatabaseValueConvertible]) throws {
        logger?.debug("\(sql)")
        let statement = try cachedStatement(sql)
        try statement.bind(arguments.map { $0.databaseValue })
        try statement.run()
    }

    /// Runs one or more statements separated by semicolons, without arguments.
    public func execute(_ sql: String) throws {
        logger?.debug("\(sql)")
        // A single statement runs from the statement cache: transaction control and pragmas run on
        // every write job (BEGIN, SAVEPOINT, COMMIT…) and need not be compiled each time. A script
        // of several statements runs one statement at a time, uncached.
        if let statement = try cachedStatement(sql, unlessScript: true) {
            try statement.run()
            return
        }
        try sql.withCString { start in
            var next: UnsafePointer<CChar>? = start
            while let current = next, current.pointee != 0 {
                var stmt: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let code = sqlite3_prepare_v2(handle, current, -1, &stmt, &tail)
                guard code == SQLITE_OK else {
                    throw DatabaseError(connection: handle, code: code, sql: String(cString: current))
                }
                next = tail
                guard let stmt else { continue }  // whitespace or a comment
                defer { sqlite3_finalize(stmt) }
                if interruption.isSet {
                    throw DatabaseError(resultCode: SQLITE_INTERRUPT, message: "interrupted: the task was cancelled")
                }
                var stepCode = sqlite3_step(stmt)
                while stepCode == SQLITE_ROW { stepCode = sqlite3_step(stmt) }
                guard stepCode == SQLITE_DONE else {
                    throw DatabaseError(connection: handle, code: stepCode, sql: String(cString: sqlite3_sql(stmt)))
                }
            }
        }
    }

    /// Fetches every row of a query with bound arguments.
    public func fetchAll(_ sql: String, _ arguments: [any DatabaseValueConvertible] = []) throws -> [Row] {
        logger?.debug("\(sql)")
        let statement = try cachedStatement(sql)
        try statement.bind(arguments.map { $0.databaseValue })
        defer { sqlite3_reset(statement.handle) }
        let columns = statement.columnNames
        var rows: [Row] = []
        while try statement.step() {
            rows.append(Row(columns: columns, values: (0..<statement.columnCount).map(statement.value)))
        }
        return rows
    }

    /// Fetches the first row of a query, or `nil`.
    public func fetchOne(_ sql: String, _ arguments: [any DatabaseValueConvertible] = []) throws -> Row? {
        logger?.debug("\(sql)")
        let statement = try cachedStatement(sql)
        try statement.bind(arguments.map { $0.databaseValue })
        defer { sqlite3_reset(statement.handle) }
        guard try statement.step() else { return nil }
        return Row(columns: statement.columnNames, values: (0..<statement.columnCount).map(statement.value))
    }

    /// The first column of the first row as `T`: `nil` when there is no row or the value is NULL;
    /// throws (`SQLITE_MISMATCH`, naming the value and the SQL) when it is stored as another type.
    ///
    /// ```swift
    /// let count = try db.scalar(Int.self, "SELECT count(*) FROM books")   // Int?
    /// let title = try db.scalar(String.self, "SELECT title FROM books WHERE id = ?", [7])
    /// ```
    public func scalar<T: DatabaseValueReadable>(
        _ type: T.Type, _ sql: String, _ arguments: [any DatabaseValueConvertible] = []
    ) throws -> T? {
        let value = try scalar(sql, arguments)
        do {
            return try value.as(T.self)
        } catch let error as DatabaseError {
            throw DatabaseError(resultCode: error.resultCode, message: error.message, sql: sql)
        }
    }

    /// The first column of the first row, e.g. `try $0.scalar("SELECT count(*) FROM books")`.
    public func scalar(_ sql: String, _ arguments: [any DatabaseValueConvertible] = []) throws -> DatabaseValue {
        try fetchOne(sql, arguments)?.values.first ?? .null
    }

    // MARK: State

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes64(handle)) }
    /// `true` while a transaction is open.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    // MARK: Interruption (cancellation)

    /// Called from another thread by a cancelled job: stops the running statement and every later one.
    func interrupt() {
        interruption.set(true)
        sqlite3_interrupt(handle)
    }

    /// Called on the connection's own thread between jobs.
    func clearInterrupt() {
        interruption.set(false)
    }
}

/// Whether a connection's job was cancelled: written from the cancelling thread, read by the
/// connection's thread before each statement starts.
final class InterruptFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set(_ value: Bool) { flag.store(value, ordering: .relaxed) }
}

/// How long a connection has waited for a lock another connection or process holds. Used only on
/// the connection's own thread, by SQLite's busy handler.
final class BusyWait {
    var timeout: Duration = .seconds(30)
    var started = ContinuousClock.now
    /// The connection's interrupt flag: a cancelled job stops waiting.
    var interruption: InterruptFlag?
}

/// SQLite's busy handler for every Docket connection: `count` is how many times it was called for
/// this lock. Sleeps 25 µs, doubling to 2 ms, each drawn from the upper half of its range, until
/// `BusyWait.timeout` has passed since the first call; then returns 0 and SQLite reports
/// SQLITE_BUSY.
private let busyHandler: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    guard let context else { return 0 }
    let wait = Unmanaged<BusyWait>.fromOpaque(context).takeUnretainedValue()
    let now = ContinuousClock.now
    if count == 0 { wait.started = now }
    let left = wait.timeout - (now - wait.started)
    guard left > .zero, wait.interruption?.isSet != true else { return 0 }
    let cap = 25 << min(Int(count), 6)  // microseconds: 25 … 1600
    let sleep = min(Int.random(in: cap / 2...cap), Int(left.components.seconds) * 1_000_000 + 1_000_000)
    usleep(UInt32(max(1, sleep)))
    return 1
}
