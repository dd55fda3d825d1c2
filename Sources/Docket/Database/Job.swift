import CSQLite
import Foundation

/// One piece of work for a connection thread: a body to run on the connection, and a completion
/// that hands the outcome back to the caller (a continuation or a waiting thread).
///
/// A job is cancelled from the caller's side (task cancellation) while it runs on a connection
/// thread; its state is behind a mutex so that `cancel()` can only interrupt the connection while
/// *this* job is the one running on it.
final class Job: Sendable {
    private struct State {
        var phase: Phase = .pending
        var cancelled = false
        var finish: (@Sendable (Error?) -> Void)?
        // The running connection, kept only to interrupt it; it is touched from another thread
        // through `interrupt()`, which uses an atomic flag and `sqlite3_interrupt`, both thread-safe.
        nonisolated(unsafe) var connection: Connection?
        // The work, released when the job finishes (see `finish`); it runs only on the connection
        // thread that dequeued the job, so the unchecked transfer is safe.
        nonisolated(unsafe) var body: ((Connection) throws -> Void)?
    }
    private enum Phase { case pending, running, finished }

    /// The work to run on the connection; a no-op once the job finished.
    var body: (Connection) throws -> Void { state.withLock { $0.body } ?? { _ in } }
    /// `false` for jobs that manage their own transaction (migrations, VACUUM); they run alone.
    let isTransactional: Bool
    /// `true` for jobs that never change the schema (a unit of work's flush): the writer then keeps
    /// the schema version it checked earlier in the same transaction (`Connection.schemaVerified`).
    let keepsSchema: Bool
    private let state: Locked<State>

    init(isTransactional: Bool = true, keepsSchema: Bool = false, body: @escaping (Connection) throws -> Void) {
        self.isTransactional = isTransactional
        self.keepsSchema = keepsSchema
        self.state = Locked(State(body: body))
    }

    /// Sets the completion. Call before the job is enqueued.
    func onFinish(_ finish: @escaping @Sendable (Error?) -> Void) {
        state.withLock { $0.finish = finish }
    }

    /// Marks the job running on `connection`. Returns `false` if it was cancelled while waiting.
    func start(on connection: Connection) -> Bool {
        state.withLock { state in
            if state.cancelled { return false }
            state.phase = .running
            state.connection = connection
            return true
        }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Cancels the job: a waiting job will not run; a running one has its statement interrupted.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            if state.phase == .running { state.connection?.interrupt() }
        }
    }

    /// Stops interruption of `connection` on this job's behalf. The connection thread calls this
    /// when the job's statements are done, before it commits, so a late cancel cannot interrupt the
    /// COMMIT of a group or the next job.
    func stopRunning() {
        state.withLock { state in
            state.phase = .finished
            state.connection?.clearInterrupt()
            state.connection = nil
        }
    }

    /// Releases the body, then delivers the outcome exactly once.
    ///
    /// The body must be gone before the caller wakes: the blocking API wraps a non-escaping closure
    /// with `withoutActuallyEscaping`, which traps if the closure is still referenced when it
    /// returns, and the queue and the writer loop may still hold this job.
    func finish(_ error: Error?) {
        let (deliver, wasCancelled) = state.withLock { state -> ((@Sendable (Error?) -> Void)?, Bool) in
            state.phase = .finished
            state.connection = nil
            state.body = nil
            defer { state.finish = nil }
            return (state.finish, state.cancelled)
        }
        // The interrupt that this job's own cancellation caused is reported as what it is, so that
        // a cancelled task sees CancellationError, as `Database.write` documents.
        if wasCancelled, let error = error as? DatabaseError, error.resultCode == SQLITE_INTERRUPT {
            deliver?(CancellationError())
        } else {
            deliver?(error)
        }
    }
}

/// A FIFO of jobs shared by producer tasks and the connection threads that consume it.
final class JobQueue: Sendable {
    private struct Content {
        var jobs: [Job] = []
        var head = 0
        var closed = false
    }
    // NSCondition pairs the lock with the wait; the content is only touched while it is held.
    private let condition = NSCondition()
    nonisolated(unsafe) private var content = Content()

    /// Adds a job; returns `false` if the queue is closed.
    func enqueue(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if content.closed { return false }
        content.jobs.append(job)
        condition.signal()
        return true
    }

    /// Puts jobs back at the front, in order (a group whose transaction was lost re-runs them).
    func requeueAtFront(_ jobs: [Job]) {
        condition.lock()
        defer { condition.unlock() }
        content.jobs.replaceSubrange(content.head..<content.head, with: jobs)
        condition.signal()
    }

    /// Waits for a job. Returns `nil` once the queue is closed and drained.
    func dequeue() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while content.head == content.jobs.count && !content.closed { condition.wait() }
        return popLocked()
    }

    /// A waiting job, if there is one, without blocking.
    func tryDequeue() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        return popLocked()
    }

    private func popLocked() -> Job? {
        guard content.head < content.jobs.count else { return nil }
        let job = content.jobs[content.head]
        content.head += 1
        // Compact now and then so the array does not grow without bound.
        if content.head > 64 && content.head * 2 > content.jobs.count {
            content.jobs.removeFirst(content.head)
            content.head = 0
        }
        return job
    }

    /// Refuses new jobs and wakes every waiting thread; jobs already queued still run.
    func close() {
        condition.lock()
        content.closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Holds a job's result between the connection thread that writes it and the caller that reads it
/// after the job finished; the job's completion orders the two accesses.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
