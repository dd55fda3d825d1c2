import Foundation

/// The scoped registry: each task (or thread) gets its own unit of work.
///
/// ```swift
/// try await withUnitOfWork(db) { uow in
///     uow.insert(Order(customerID: 7))
///     try await placeLines()          // deeper code finds the same unit of work:
/// }                                   // committed here, when the body returns
///
/// func placeLines() async throws {
///     let uow = UnitOfWork.current!   // the scope's unit of work
///     …
/// }
/// ```
extension UnitOfWork {
    /// A task-local scope. `Sendable` because task-locals must be; the unit of work inside is only
    /// handed out to the task that opened the scope (checked in `current`), never to child tasks
    /// that inherit the task-local, so it is never used from two tasks.
    final class Scope: Sendable {
        nonisolated(unsafe) let unitOfWork: UnitOfWork
        let key: any Hashable & Sendable
        let owner: Int
        let parent: Scope?

        init(unitOfWork: UnitOfWork, key: any Hashable & Sendable, owner: Int, parent: Scope?) {
            self.unitOfWork = unitOfWork
            self.key = key
            self.owner = owner
            self.parent = parent
        }
    }

    @TaskLocal static var scope: Scope?

    /// The unit of work of the innermost ``withUnitOfWork(_:scope:isolation:_:)`` scope of the
    /// current task, or `nil` outside one. A child task (`async let`, task groups) sees `nil`: a unit
    /// of work belongs to one task.
    public static var current: UnitOfWork? { current(scope: DefaultScope()) }

    /// The unit of work of the innermost scope opened with `scope: key` in the current task.
    public static func current<Key: Hashable & Sendable>(scope key: Key) -> UnitOfWork? {
        let task = currentTaskID()
        var scope = Self.scope
        while let s = scope {
            if AnyHashable(s.key) == AnyHashable(key) { return s.owner == task ? s.unitOfWork : nil }
            scope = s.parent
        }
        return nil
    }
}

struct DefaultScope: Hashable, Sendable {}

private func currentTaskID() -> Int {
    withUnsafeCurrentTask { $0?.hashValue ?? 0 }
}

/// Runs `body` with the current task's unit of work for `scope` on `database`, created for this
/// scope (or reused, when an enclosing scope of the current task has the same key).
///
/// When `body` returns, the scope that created the unit of work commits what is still queued;
/// when it throws, the queued changes are discarded and the error rethrown. Either way the unit of
/// work is gone with the scope: nothing leaks if a caller forgets to clean up.
///
/// A scope that **reuses** an enclosing unit of work is a nested scope of it: when its body
/// throws, what it queued (and loaded) is discarded, and the enclosing scope does not commit it,
/// even if it catches the error and carries on.
///
/// `retry` re-runs the body with a fresh unit of work when the commit (or the body) fails with a
/// conflict, as ``RetryPolicy`` says; ``Database/retryCount`` counts the re-runs. It applies in the
/// scope that creates the unit of work; a reusing scope leaves retries to the one that created it.
///
/// `scope` is any key, for one unit of work per request, tenant or job:
/// `withUnitOfWork(db, scope: request.id) { … }` and `UnitOfWork.current(scope: request.id)`.
@discardableResult
public func withUnitOfWork<T, Key: Hashable & Sendable>(
    _ database: Database, scope key: Key, retry: RetryPolicy = .never, isolation: isolated (any Actor)? = #isolation,
    _ body: (UnitOfWork) async throws -> T
) async throws -> T {
    if let existing = UnitOfWork.current(scope: key), existing.database === database {
        return try await existing.nested { try await body(existing) }
    }
    var attempt = 1
    while true {
        let unitOfWork = UnitOfWork(database: database)
        let scope = UnitOfWork.Scope(
            unitOfWork: unitOfWork, key: key, owner: currentTaskID(), parent: UnitOfWork.scope)
        do {
            let result = try await UnitOfWork.$scope.withValue(scope) { try await body(unitOfWork) }
            if unitOfWork.hasChanges { try await unitOfWork.commit() }
            return result
        } catch {
            unitOfWork.rollback()
            guard attempt < retry.attempts, RetryPolicy.isConflict(error) else { throw error }
            database.countRetry()
            try await Task.sleep(for: retry.delay(beforeRetry: attempt))
            attempt += 1
        }
    }
}

/// ``withUnitOfWork(_:scope:retry:isolation:_:)`` with the default scope, read by ``UnitOfWork/current``.
@discardableResult
public func withUnitOfWork<T>(
    _ database: Database, retry: RetryPolicy = .never, isolation: isolated (any Actor)? = #isolation,
    _ body: (UnitOfWork) async throws -> T
) async throws -> T {
    try await withUnitOfWork(database, scope: DefaultScope(), retry: retry, body)
}

// MARK: - Per-thread units of work

extension UnitOfWork {
    private static func threadKey(_ database: Database) -> String {
        "docket.unitOfWork.\(ObjectIdentifier(database).hashValue)"
    }

    /// The current thread's unit of work on `database`, created on first use, for thread-based code
    /// (threads, DispatchQueue workers). Remove it with ``removeForCurrentThread(_:)`` when the
    /// thread's work is done.
    @available(*, noasync, message: "use withUnitOfWork in async code: tasks hop between threads")
    public static func forCurrentThread(_ database: Database) -> UnitOfWork {
        let dictionary = Thread.current.threadDictionary
        let key = threadKey(database)
        if let existing = dictionary[key] as? UnitOfWork { return existing }
        let unitOfWork = UnitOfWork(database: database)
        dictionary[key] = unitOfWork
        return unitOfWork
    }

    /// Removes the current thread's unit of work on `database`, discarding what it still queues.
    /// Returns the number of changes discarded.
    @available(*, noasync, message: "use withUnitOfWork in async code: tasks hop between threads")
    @discardableResult
    public static func removeForCurrentThread(_ database: Database) -> Int {
        let dictionary = Thread.current.threadDictionary
        let key = threadKey(database)
        let discarded = (dictionary[key] as? UnitOfWork)?.pendingChangeCount ?? 0
        dictionary.removeObject(forKey: key)
        return discarded
    }
}
