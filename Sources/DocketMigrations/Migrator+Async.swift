import Docket
import Foundation

extension Migrator {
    /// The migrator's operations as `async` calls, for async code (a server's startup, a
    /// Hummingbird `beforeServerStarts`):
    ///
    /// ```swift
    /// let migrator = try Migrator(folder: "Migrations")
    /// let runs = try await migrator.async.migrate(db)
    /// let pending = try await migrator.async.plan(db)
    /// ```
    ///
    /// Each runs the blocking operation of the same name on a thread of its own and suspends the
    /// caller until it ends, so no thread of Swift's cooperative pool ever waits on SQLite or on
    /// another process's lock. Results and errors are those of the blocking forms.
    public var async: AsyncMigrator { AsyncMigrator(migrator: self) }
}

/// ``Migrator``'s operations as `async` calls: see ``Migrator/async``.
public struct AsyncMigrator: Sendable {
    public let migrator: Migrator

    @discardableResult
    public func migrate(
        _ db: Database, to target: Int64? = nil, onProgress: @escaping @Sendable (MigrationRun) -> Void = { _ in }
    ) async throws(MigrationError) -> [MigrationRun] {
        try await offThePool { [migrator] () throws(MigrationError) in
            try migrator.migrate(db, to: target, onProgress: onProgress)
        }
    }

    @discardableResult
    public func rollback(
        _ db: Database, steps: Int = 1, onProgress: @escaping @Sendable (MigrationRun) -> Void = { _ in }
    ) async throws(MigrationError) -> [MigrationRun] {
        try await offThePool { [migrator] () throws(MigrationError) in
            try migrator.rollback(db, steps: steps, onProgress: onProgress)
        }
    }

    @discardableResult
    public func rollback(
        _ db: Database, to version: Int64, onProgress: @escaping @Sendable (MigrationRun) -> Void = { _ in }
    ) async throws(MigrationError) -> [MigrationRun] {
        try await offThePool { [migrator] () throws(MigrationError) in
            try migrator.rollback(db, to: version, onProgress: onProgress)
        }
    }

    public func status(_ db: Database) async throws(MigrationError) -> [MigrationStatus] {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.status(db) }
    }

    public func validate(_ db: Database) async throws(MigrationError) {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.validate(db) }
    }

    /// What `migrate` would apply to `db` now (``Migrator/plan(history:to:)``).
    public func plan(_ db: Database, to target: Int64? = nil) async throws(MigrationError) -> [Migration] {
        try await offThePool { [migrator] () throws(MigrationError) in
            try migrator.plan(history: try migrator.readHistory(db), to: target)
        }
    }

    public func lint() async throws(MigrationError) -> [LintFinding] {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.lint() }
    }

    public func schemaDump(_ db: Database) async throws(MigrationError) -> String {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.schemaDump(db) }
    }

    public func scratchSchema() async throws(MigrationError) -> String {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.scratchSchema() }
    }

    public func checkOnScratchDatabase() async throws(MigrationError) {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.checkOnScratchDatabase() }
    }

    public func squash(to version: Int64) async throws(MigrationError) -> Squash {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.squash(to: version) }
    }

    @discardableResult
    public func repair(_ db: Database, version: Int64? = nil) async throws(MigrationError) -> [MigrationRepair] {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.repair(db, version: version) }
    }

    @discardableResult
    public func baseline(_ db: Database, version: Int64) async throws(MigrationError) -> [Migration] {
        try await offThePool { [migrator] () throws(MigrationError) in try migrator.baseline(db, version: version) }
    }

    /// Runs `body` on a new thread and suspends until it returns or throws.
    private func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws(MigrationError) -> T)
        async throws(MigrationError) -> T
    {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<T, MigrationError>, Never>) in
            let thread = Thread {
                do throws(MigrationError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "docket.migrator"
            thread.start()
        }
        return try result.get()
    }
}
