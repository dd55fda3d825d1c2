import Docket
import Foundation

/// One migration applied or rolled back by a run, as reported to the caller.
public struct MigrationRun: Sendable, Hashable, Codable {
    /// Which way the migration ran.
    public enum Direction: String, Sendable, Codable {
        /// Applied (`migrate`).
        case up
        /// Rolled back (`rollback`).
        case down
    }
    /// The migration's version.
    public let version: Int64
    /// The migration's name.
    public let name: String
    /// Which way it ran.
    public let direction: Direction
    /// How long its statements took, in milliseconds (0 when skipped).
    public let durationMilliseconds: Double
    /// `true` when another runner had already done it by the time this one got the write lock, so
    /// this one did nothing.
    public let wasDoneByAnotherRunner: Bool

    /// `<version>_<name>`, or `R__<name>` for a repeatable migration.
    public var id: String { isRepeatable ? "R__\(name)" : "\(version)_\(name)" }
    /// A repeatable migration (``RepeatableMigration``), which has version 0.
    public var isRepeatable: Bool { version == 0 }
}

extension Migrator {
    /// Applies the pending migrations, in version order, each in its own transaction.
    ///
    /// Everything is validated first; a problem throws before anything runs. If a migration fails,
    /// it is rolled back, the ones applied before it in this run are kept, and the error says which
    /// statement failed. Another runner applying the same migrations at the same moment is safe:
    /// each migration is applied once, and the other runner's work shows here as
    /// ``MigrationRun/wasDoneByAnotherRunner``.
    ///
    /// - Parameters:
    ///   - target: apply only migrations up to this version (it must be a known version, not older
    ///     than the latest applied one); `nil` applies all.
    ///   - onProgress: called after each migration, on the calling thread.
    /// - Returns: what ran, in order.
    @discardableResult
    public func migrate(
        _ db: Database, to target: Int64? = nil, onProgress: (MigrationRun) -> Void = { _ in }
    ) throws(MigrationError) -> [MigrationRun] {
        let history = try readHistory(db)
        let pending = try pendingMigrations(history: history, to: target)
        var historyTableExists = !history.isEmpty
        var runs: [MigrationRun] = []
        for migration in pending {
            onStart?(migration.id)
            let milliseconds: Double?
            do {
                milliseconds = try db.blocking.writeWithoutTransaction { [historyTableExists] connection in
                    try Self.run(
                        migration.up, of: migration, direction: .up, on: connection,
                        prepare: historyTableExists ? nil : MigrationHistory.createSQL,
                        isDone: { try MigrationHistory.contains($0, version: migration.version) },
                        record: { connection, milliseconds in
                            try connection.execute(
                                MigrationHistory.insertSQL,
                                MigrationHistory.insertArguments(for: migration, milliseconds: milliseconds))
                        })
                }
            } catch {
                throw Self.failure(error, running: migration, direction: .up, after: runs)
            }
            historyTableExists = true
            let run = MigrationRun(
                version: migration.version, name: migration.name, direction: .up,
                durationMilliseconds: milliseconds ?? 0, wasDoneByAnotherRunner: milliseconds == nil)
            runs.append(run)
            onProgress(run)
        }
        // The repeatable migrations run once the versioned ones are all applied (not on the way to
        // an older `target`, whose schema they may not fit).
        if runsRepeatables(to: target) {
            runs = try applyRepeatables(db, after: runs, onProgress: onProgress)
        }
        return runs
    }

    /// The migrations ``migrate(_:to:onProgress:)`` would apply to a database with `history`, in
    /// the order it would apply them, after the same validation (a problem throws, as `migrate`
    /// would): what `docket plan` prints.
    public func plan(history: [AppliedMigration], to target: Int64? = nil) throws(MigrationError) -> [Migration] {
        try pendingMigrations(history: history, to: target)
    }

    /// The migrations ``migrate(_:to:onProgress:)`` would apply, after validating everything.
    func pendingMigrations(history: [AppliedMigration], to target: Int64?) throws(MigrationError) -> [Migration] {
        if let error = MigrationError.combining(problems(with: history)) { throw error }
        var pending = compare(history).pending
        if let target {
            guard migrations.contains(where: { $0.version == target }) else {
                throw MigrationError(
                    .invalidTarget, "no migration has version \(target); `docket status` lists the versions.")
            }
            if let latest = history.last, target < latest.version {
                throw MigrationError(
                    .invalidTarget,
                    "version \(target) is older than \(latest.version)_\(latest.name), the latest applied "
                        + "migration; to go back, use `docket rollback --to \(target)`.")
            }
            pending = pending.filter { $0.version <= target }
        }
        return pending
    }

    /// The SQL ``migrate(_:to:onProgress:)`` would run, as a script, without running it.
    ///
    /// The `applied_at` and `duration_ms` values of the history rows are known only when the
    /// migration runs, so the script shows them as `:applied_at` and `:duration_ms`.
    public func dryRun(history: [AppliedMigration], to target: Int64? = nil) throws(MigrationError) -> String {
        let pending = try pendingMigrations(history: history, to: target)
        var script = ""
        var historyTableExists = !history.isEmpty
        for migration in pending {
            script += "-- \(migration.id)" + (migration.path.map { " (\($0))" } ?? " (registered in Swift)") + "\n"
            let options = migration.up.options
            if options.foreignKeysOff { script += "PRAGMA foreign_keys = OFF;\n" }
            if options.transaction { script += "BEGIN IMMEDIATE;\n" }
            if !historyTableExists {
                script += MigrationHistory.createSQL + ";\n"
                historyTableExists = true
            }
            switch migration.up.body {
            case .sql(let statements): for statement in statements { script += statement.sql + "\n" }
            case .swift: script += "-- (a Swift closure: its SQL is known only when it runs)\n"
            }
            let values = MigrationHistory.insertArguments(for: migration, milliseconds: 0).map {
                $0.databaseValue.sqlLiteral
            }
            let literals = values[0..<3] + [":applied_at", ":duration_ms"] + values[5...]
            script +=
                MigrationHistory.insertSQL.replacingOccurrences(
                    of: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", with: "(" + literals.joined(separator: ", ") + ")") + ";\n"
            if options.foreignKeysOff { script += "PRAGMA foreign_key_check;  -- any row rolls back\n" }
            if options.transaction { script += "COMMIT;\n" }
            if options.foreignKeysOff { script += "PRAGMA foreign_keys = ON;\n" }
            script += "\n"
        }
        return script
    }
}
