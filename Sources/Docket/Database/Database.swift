import CSQLite
import Foundation

/// The only door to a SQLite database: it owns every connection, and lends one to each closure you
/// give it, on a thread it owns.
///
/// - One **writer** connection runs write jobs from a queue, one transaction at a time
///   (`BEGIN IMMEDIATE … COMMIT`), so Docket's own writers never meet `SQLITE_BUSY`.
/// - A pool of **reader** connections (WAL mode) serves reads concurrently, each in its own
///   snapshot; readers never block the writer, and the writer never blocks them.
///
/// ```swift
/// let db = try Database(path: "bookstore.sqlite")
/// try await db.write { try $0.execute("INSERT INTO authors (name) VALUES (?)", ["Le Guin"]) }
/// let count = try await db.read { try $0.scalar("SELECT count(*) FROM authors") }
/// ```
///
/// `Database` is `Sendable`: share one instance across every task and thread of the application.
/// See `Docs/Concurrency.md`.
public final class Database: Sendable {
    /// The database file's path.
    public let path: String
    /// The configuration the database was opened with.
    public let configuration: Configuration
    private let writerQueue = JobQueue()
    private let readerQueue = JobQueue()
    private let writer: ConnectionThread
    private let readers: [ConnectionThread]
    private let removesFilesOnClose: Bool
    private let closed = ResultBox<Bool>()
    private let retries = Locked(0)
    private let closeLock = NSLock()

    /// Opens (creating if needed) the database file at `path`.
    ///
    /// Throws a ``DatabaseError`` naming the path when its folder does not exist, when the file is
    /// not a SQLite database, or when WAL mode cannot be enabled.
    public convenience init(path: String, configuration: Configuration = Configuration()) throws {
        try self.init(path: path, configuration: configuration, removesFilesOnClose: false)
    }

    private init(path: String, configuration: Configuration, removesFilesOnClose: Bool) throws {
        self.path = path
        self.configuration = configuration
        self.removesFilesOnClose = removesFilesOnClose
        // The writer opens first: it creates the file and switches it to WAL, which readers inherit.
        writer = try ConnectionThread(
            name: "docket.writer", path: path, configuration: configuration,
            role: .writer(configuration.groupCommit), queue: writerQueue)
        var readers: [ConnectionThread] = []
        do {
            for i in 0..<max(1, configuration.readerCount) {
                readers.append(
                    try ConnectionThread(
                        name: "docket.reader.\(i)", path: path, configuration: configuration, role: .reader,
                        queue: readerQueue))
            }
        } catch {
            writerQueue.close()
            readerQueue.close()
            writer.join()
            for reader in readers { reader.join() }
            throw error
        }
        self.readers = readers
    }

    /// A new database in a fresh temporary folder, removed when the database is closed. For tests.
    public static func temporary(configuration: Configuration = Configuration()) throws -> Database {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("docket-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try Database(
            path: folder.appendingPathComponent("db.sqlite").path, configuration: configuration,
            removesFilesOnClose: true)
    }

    deinit { close() }

    /// Finishes the jobs already queued, then closes every connection. Later calls fail.
    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        if closed.value == true { return }
        closed.value = true
        writerQueue.close()
        readerQueue.close()
        writer.join()
        for reader in readers { reader.join() }
        if removesFilesOnClose {
            try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
        }
    }

    // MARK: Async API

    /// Runs `body` on the writer connection inside `BEGIN IMMEDIATE … COMMIT`, and returns its result.
    ///
    /// If `body` throws, the transaction is rolled back and the error rethrown. If the calling task
    /// is cancelled, the running statement is interrupted, the transaction rolled back, and
    /// `CancellationError` thrown: a transaction is never left open.
    ///
    /// ```swift
    /// let id = try await db.write { db in
    ///     try db.execute("INSERT INTO authors (name) VALUES (?)", ["Ursula K. Le Guin"])
    ///     return db.lastInsertRowID
    /// }
    /// ```
    public func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await submit(to: writerQueue, body)
    }

    /// Runs `body` on a reader connection, in a read transaction (one consistent snapshot), and
    /// returns its result. Reads run concurrently with each other and with the writer.
    ///
    /// ```swift
    /// let titles = try await db.read { try Book.fetchAll($0, where: "pages > ?", [300]).map(\.title) }
    /// ```
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await submit(to: readerQueue, body)
    }

    /// Runs `body` on the writer connection with no transaction around it, for work that must
    /// manage its own: migrations that change `PRAGMA foreign_keys` (ignored inside a transaction),
    /// `VACUUM`. It runs alone, never grouped with other jobs. A transaction it leaves open is rolled
    /// back and reported as an error.
    public func writeWithoutTransaction<T: Sendable>(
        _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try await submit(to: writerQueue, transactional: false, body)
    }

    /// ``write(_:)-(Connection)->T`` for a unit of work's flush, which runs no DDL: the writer checks
    /// the schema version once per transaction for such jobs, not once per job.
    func writeKeepingSchema<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await submit(to: writerQueue, keepsSchema: true, body)
    }

    /// Runs `body` with a new unit of work inside one write job: its reads (`uow.blocking.find`,
    /// `uow.blocking.fetch`) see the writer's connection, and what it queues is flushed (in the
    /// planner's order, with the same mapping and dirty tracking) before the job's transaction
    /// commits. Nothing can change the rows it read between the read and the write, so a
    /// read-modify-write never conflicts and never needs a retry.
    ///
    /// ```swift
    /// try await db.writeUnitOfWork { uow in
    ///     var counter = try uow.blocking.find(Counter.self, id: 1)!
    ///     counter.value += 1
    ///     uow.update(counter)
    /// }   // committed with the write job, grouped with other waiting jobs
    /// ```
    ///
    /// The body holds the writer while it runs: keep it short, and do no I/O in it. If it throws,
    /// nothing it queued is written.
    public func writeUnitOfWork<T: Sendable>(_ body: @escaping @Sendable (UnitOfWork) throws -> T) async throws -> T {
        try await write { [self] _ in try runUnitOfWork(body) }
    }

    /// The body of ``writeUnitOfWork(_:)``, on the writer thread.
    fileprivate func runUnitOfWork<T>(_ body: (UnitOfWork) throws -> T) throws -> T {
        let unitOfWork = UnitOfWork(database: self)
        let result = try body(unitOfWork)
        try unitOfWork.blocking.commit()
        return result
    }

    /// How many times ``withUnitOfWork(_:retry:isolation:_:)`` ran a body again after a conflict
    /// (a stale write), since the database was opened: for metrics.
    public var retryCount: Int { retries.withLock { $0 } }

    func countRetry() { retries.withLock { $0 += 1 } }

    private func submit<T: Sendable>(
        to queue: JobQueue, transactional: Bool = true, keepsSchema: Bool = false,
        _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let box = ResultBox<T>()
        let job = Job(isTransactional: transactional, keepsSchema: keepsSchema) { box.value = try body($0) }
        return try await withTaskCancellationHandler {
            // Checked, although `Job.finish` delivers exactly once: with the unchecked form,
            // ThreadSanitizer reports the resume on the writer thread racing with the resumed task's
            // reuse of its own allocator memory (the runtime's ordering is invisible to it), and the
            // CI's sanitizer run fails.
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                job.onFinish { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else {
                        continuation.resume(returning: box.value!)
                    }
                }
                if !queue.enqueue(job) { job.finish(Self.closedError) }
            }
        } onCancel: {
            job.cancel()
        }
    }

    // MARK: Blocking API (for threads and DispatchQueue workers)

    /// The blocking forms of ``read(_:)``, ``write(_:)`` and ``writeWithoutTransaction(_:)``, for
    /// thread-based code: the calling thread waits for the result.
    ///
    /// ```swift
    /// Thread {
    ///     let count = try db.blocking.read { try $0.scalar("SELECT count(*) FROM books") }
    /// }.start()
    /// ```
    ///
    /// They have names of their own (`db.blocking.read`, not an overload of `db.read`) so that async
    /// code, top-level code included, can never pick one by accident: `try await db.read { … }`
    /// always awaits.
    public var blocking: BlockingDatabase { BlockingDatabase(database: self) }

    /// The writer's connection when the calling thread is the writer running a write job, else
    /// `nil`: a unit of work used inside a write job reads and commits on it.
    var currentWriterConnection: Connection? { writer.isCurrent ? writer.connection : nil }

    /// Runs `body` as a write job and waits for it; called on the writer's own thread (from inside a
    /// write job), it throws `misuse` instead, as waiting there would deadlock.
    fileprivate func waitForWriter<T>(
        transactional: Bool = true, keepsSchema: Bool = false, misuse: @autoclosure () -> String,
        _ body: (Connection) throws -> T
    ) throws -> T {
        if writer.isCurrent { throw DatabaseError.misuse(misuse()) }
        return try submitAndWait(to: writerQueue, transactional: transactional, keepsSchema: keepsSchema, body)
    }

    /// The blocking read; called from inside a `read` closure, it reuses that read's connection and
    /// snapshot rather than waiting for another reader.
    fileprivate func readAndWait<T>(_ body: (Connection) throws -> T) throws -> T {
        if let reader = readers.first(where: { $0.isCurrent }), let connection = reader.connection {
            return try body(connection)
        }
        return try submitAndWait(to: readerQueue, body)
    }

    fileprivate func submitAndWait<T>(
        to queue: JobQueue, transactional: Bool = true, keepsSchema: Bool = false, _ body: (Connection) throws -> T
    ) throws -> T {
        try withoutActuallyEscaping(body) { body in
            // The caller blocks until the job finished, so neither the non-escaping body nor the
            // box outlive this call, and the semaphore orders the box's write before its read.
            let box = ResultBox<T>()
            let failure = ResultBox<Error>()
            let semaphore = DispatchSemaphore(value: 0)
            let job = Job(isTransactional: transactional, keepsSchema: keepsSchema) { box.value = try body($0) }
            job.onFinish { error in
                failure.value = error
                semaphore.signal()
            }
            if !queue.enqueue(job) { job.finish(Self.closedError) }
            semaphore.wait()
            if let error = failure.value { throw error }
            return box.value!
        }
    }

    private static var closedError: DatabaseError {
        DatabaseError.misuse("the database is closed")
    }
}

/// The blocking forms of a ``Database``'s reads and writes (``Database/blocking``), for threads and
/// DispatchQueue workers. Each waits on the calling thread; none may be called from async code.
public struct BlockingDatabase: Sendable {
    /// The database the blocking calls go to.
    public let database: Database

    /// The blocking form of ``Database/write(_:)``.
    ///
    /// Calling it from inside another `write` closure throws a ``DatabaseError`` (`SQLITE_MISUSE`)
    /// instead of deadlocking: use the connection you were given instead (a ``UnitOfWork`` used
    /// inside a write job commits on it by itself).
    public func write<T>(_ body: (Connection) throws -> T) throws -> T {
        try database.waitForWriter(
            misuse: "write was called from inside a write on the same Database: a write job cannot wait for "
                + "another write job. Use the Connection the outer write passed to its closure.", body)
    }

    /// The blocking form of ``Database/writeUnitOfWork(_:)``.
    public func writeUnitOfWork<T>(_ body: (UnitOfWork) throws -> T) throws -> T {
        try write { _ in try database.runUnitOfWork(body) }
    }

    /// The blocking form of ``Database/read(_:)``. Called from inside a `read` closure, it reuses
    /// that read's connection and snapshot rather than waiting for another reader.
    public func read<T>(_ body: (Connection) throws -> T) throws -> T {
        try database.readAndWait(body)
    }

    /// The blocking form of ``Database/writeWithoutTransaction(_:)``.
    public func writeWithoutTransaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try database.waitForWriter(
            transactional: false, misuse: "writeWithoutTransaction was called from inside a write on the same Database",
            body)
    }

    /// The blocking form of `Database.writeKeepingSchema`, for a unit of work's flush.
    func writeKeepingSchema<T>(_ body: (Connection) throws -> T) throws -> T {
        try database.waitForWriter(
            keepsSchema: true,
            misuse: "a unit of work was committed from inside a write on the same Database: a write job cannot wait "
                + "for another write job", body)
    }
}

// MARK: Backup

extension Database {
    /// Writes a consistent copy of the database to a new file at `path`, while the application
    /// keeps reading and writing: the copy is one snapshot (every commit before it whole, none
    /// after it), taken on a reader connection with SQLite's online backup API
    /// (https://sqlite.org/backup.html), so the writer is never blocked.
    ///
    /// ```swift
    /// try await db.backup(to: "/backups/bookstore-2026-12-01.sqlite")
    /// ```
    ///
    /// A plain `cp` of a WAL database can copy the main file without the commits still in its
    /// `-wal` file, or a torn mix of both; this cannot. The copy is a complete database of its own
    /// (no `-wal` to carry along). Throws a ``DatabaseError`` naming `path`, and writes nothing,
    /// when a file is already there, or when its folder does not exist.
    public func backup(to path: String) async throws {
        try Self.checkBackupDestination(path)
        try await read { try $0.backup(to: path) }
    }

    static func checkBackupDestination(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            throw DatabaseError(
                resultCode: SQLITE_CANTOPEN,
                message: "cannot back up to \(path): a file is already there, and a backup never overwrites one; "
                    + "choose a new path or remove it first")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            throw DatabaseError(
                resultCode: SQLITE_CANTOPEN, message: "cannot back up to \(path): the folder \(folder) does not exist")
        }
    }
}

extension BlockingDatabase {
    /// The blocking form of ``Database/backup(to:)``.
    public func backup(to path: String) throws {
        try Database.checkBackupDestination(path)
        try read { try $0.backup(to: path) }
    }
}
