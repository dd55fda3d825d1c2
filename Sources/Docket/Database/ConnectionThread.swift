import CSQLite
import Foundation

/// A thread Docket owns, with one connection that lives and dies on it.
///
/// Blocking SQLite calls run here, never on Swift's cooperative thread pool (whose few threads
/// must never block), and the connection is confined to this one thread for its whole life, so
/// it never needs SQLite's own mutexes (https://sqlite.org/threadsafe.html).
final class ConnectionThread: Sendable {
    enum Role {
        case writer(GroupCommit)
        case reader
    }

    let name: String
    private let queue: JobQueue
    private let done = DispatchSemaphore(value: 0)
    // Written once by the thread before `started` is signalled, read only after: ordered by the
    // semaphore. The connection itself is touched only on the thread.
    nonisolated(unsafe) private var threadID = pthread_self()
    nonisolated(unsafe) private(set) var connection: Connection?

    /// Starts the thread and opens its connection there; throws what opening threw.
    init(name: String, path: String, configuration: Configuration, role: Role, queue: JobQueue) throws {
        self.name = name
        self.queue = queue
        let started = DispatchSemaphore(value: 0)
        let openError = ResultBox<Error>()
        let thread = Thread { [self] in
            threadID = pthread_self()
            do {
                let connection = try Connection(
                    path: path, configuration: configuration,
                    readOnly: { if case .reader = role { true } else { false } }())
                self.connection = connection
                started.signal()
                switch role {
                case .writer(let groupCommit):
                    WriterLoop(connection: connection, queue: queue, bounds: groupCommit).run()
                case .reader: ReaderLoop(connection: connection, queue: queue).run()
                }
                self.connection = nil
                connection.close()
            } catch {
                openError.value = error
                started.signal()
            }
            done.signal()
        }
        thread.name = name
        thread.stackSize = 8 << 20  // deep Codable values recurse
        thread.start()
        started.wait()
        if let error = openError.value { throw error }
    }

    /// `true` when called on this thread.
    var isCurrent: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    /// Waits for the thread to finish its queued jobs and close its connection (after the queue closed).
    func join() { done.wait() }
}

/// The writer: one job at a time, or several waiting jobs in one transaction (group commit).
private struct WriterLoop {
    let connection: Connection
    let queue: JobQueue
    let bounds: GroupCommit

    func run() {
        while let first = queue.dequeue() { runGroup(startingWith: first) }
    }

    /// Runs `first` and, while the group's bounds allow, the jobs waiting behind it, each in its own
    /// SAVEPOINT inside one `BEGIN IMMEDIATE … COMMIT`. The first job needs no savepoint: if it fails,
    /// the transaction holds nothing else and is rolled back whole.
    private func runGroup(startingWith first: Job) {
        guard first.start(on: connection) else { return first.finish(CancellationError()) }
        guard first.isTransactional else { return runAlone(first) }
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch let error as DatabaseError where error.resultCode == SQLITE_BUSY {
            // The busy handler waited the whole deadline: another process kept the write lock.
            first.stopRunning()
            return first.finish(first.isCancelled ? CancellationError() : Self.lockHeld(error, connection))
        } catch {
            first.stopRunning()
            return first.finish(error)
        }
        // Another connection or process may have changed the schema since the last transaction.
        connection.schemaVerified = false
        let started = ContinuousClock.now
        var succeeded: [Job] = []
        var groupSize = 1
        var job = first
        while true {
            let inSavepoint = !succeeded.isEmpty
            if !job.keepsSchema { connection.schemaVerified = false }
            do {
                if inSavepoint { try connection.execute("SAVEPOINT docket_job") }
                try job.body(connection)
                if job.isCancelled { throw CancellationError() }
                job.stopRunning()
                if inSavepoint { try connection.execute("RELEASE docket_job") }
                succeeded.append(job)
            } catch {
                job.stopRunning()
                if connection.isInTransaction && inSavepoint
                    && (try? connection.execute("ROLLBACK TO docket_job; RELEASE docket_job")) != nil
                {
                    job.finish(error)  // only this job's changes are undone; the group goes on
                } else {
                    // Either the job was alone, or SQLite rolled the whole transaction back on its own
                    // (an interrupt, I/O error or full disk: https://sqlite.org/lang_transaction.html).
                    // The jobs that had succeeded lost their work with it: run them again, first.
                    rollback()
                    job.finish(error)
                    queue.requeueAtFront(succeeded)
                    return
                }
            }
            guard groupSize < bounds.maximumJobs, ContinuousClock.now - started < bounds.maximumDuration,
                let next = queue.tryDequeue()
            else { break }
            guard next.isTransactional else {
                queue.requeueAtFront([next])
                break
            }
            guard next.start(on: connection) else {
                next.finish(CancellationError())
                break
            }
            job = next
            groupSize += 1
        }
        guard !succeeded.isEmpty else { return rollback() }
        do {
            try connection.execute("COMMIT")
        } catch {
            rollback()
            let reported = Self.commitFailure(error, jobs: succeeded.count)
            for job in succeeded { job.finish(reported) }
            return
        }
        for job in succeeded { job.finish(nil) }
    }

    /// A job that manages its own transactions. Whatever it leaves open is rolled back, so the next
    /// job never inherits a transaction.
    private func runAlone(_ job: Job) {
        connection.schemaVerified = false
        do {
            try job.body(connection)
            job.stopRunning()
            if connection.isInTransaction {
                rollback()
                throw DatabaseError.misuse("a writeWithoutTransaction job left a transaction open; it was rolled back")
            }
            job.finish(nil)
        } catch {
            job.stopRunning()
            rollback()
            job.finish(error)
        }
    }

    private func rollback() {
        if connection.isInTransaction { try? connection.execute("ROLLBACK") }
    }

    /// A failed `COMMIT`. When the disk failed it (an I/O error, a full disk), the commit's frames,
    /// its commit frame included, may already be in the `-wal`: a sync that failed after they were
    /// written, or a padding frame written after the commit frame. A restart may then find the
    /// transaction committed (https://sqlite.org/lang_transaction.html, "Response To Errors Within
    /// A Transaction"): the outcome is unknown, and the error says so. `CrashTests` SIGKILLs a
    /// worker after such faults and found "failed" commits in the file before this was reported.
    static func commitFailure(_ error: any Error, jobs: Int) -> any Error {
        guard let error = error as? DatabaseError, error.resultCode == SQLITE_IOERR || error.resultCode == SQLITE_FULL
        else { return error }
        var unknown = DatabaseError(
            resultCode: error.resultCode, extendedResultCode: error.extendedResultCode,
            message: "commit outcome unknown: writing the commit to disk failed (\(error.message)) after some or all "
                + "of it may have reached the -wal file, so after a crash or restart it may or may not be in the "
                + "database"
                + (jobs > 1 ? " (with the \(jobs - 1) other commits of its group)" : "")
                + ". Check for it before writing it again, or retry in a way that is safe to repeat",
            sql: error.sql)
        unknown.isCommitOutcomeUnknown = true
        return unknown
    }

    /// SQLITE_BUSY from `BEGIN IMMEDIATE`, said so that a user can act on it.
    static func lockHeld(_ error: DatabaseError, _ connection: Connection) -> DatabaseError {
        let timeout = connection.busyWait.timeout
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        return DatabaseError(
            resultCode: error.resultCode, extendedResultCode: error.extendedResultCode,
            message: "another process (or another connection to \(connection.path)) held the write lock for longer "
                + "than \(String(format: "%g", seconds)) s, the deadline Configuration.busyTimeout sets "
                + "(--busy-timeout for the docket tool). Nothing was written; the write can be retried as it is",
            sql: error.sql)
    }
}

/// A reader: each job runs in its own read transaction, a consistent WAL snapshot.
private struct ReaderLoop {
    let connection: Connection
    let queue: JobQueue

    func run() {
        while let job = queue.dequeue() {
            guard job.start(on: connection) else {
                job.finish(CancellationError())
                continue
            }
            do {
                // BEGIN DEFERRED takes the snapshot at the first read and keeps it for the whole job.
                try connection.execute("BEGIN DEFERRED")
                connection.schemaVerified = false
                try job.body(connection)
                job.stopRunning()
                try connection.execute("COMMIT")
                job.finish(nil)
            } catch {
                job.stopRunning()
                if connection.isInTransaction { try? connection.execute("ROLLBACK") }
                job.finish(error)
            }
        }
    }
}
