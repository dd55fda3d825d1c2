import Docket
import Foundation

extension Migrator {
    /// Rolls back the latest `steps` applied migrations (by version, newest first), each in its own
    /// transaction, with the same guarantees as ``migrate(_:to:onProgress:)``.
    ///
    /// Everything is checked before anything runs: an irreversible migration among them, an edited
    /// applied file, or more steps than applied migrations throws and leaves the database unchanged.
    @discardableResult
    public func rollback(
        _ db: Database, steps: Int = 1, onProgress: (MigrationRun) -> Void = { _ in }
    ) throws(MigrationError) -> [MigrationRun] {
        let history = try readHistory(db)
        guard steps >= 1 else { throw MigrationError(.invalidTarget, "the number of steps must be 1 or more.") }
        // Nothing applied: nothing to roll back, which is not an error (exit 0, as Docs/CLI.md says).
        if history.isEmpty { return [] }
        guard steps <= history.count else {
            throw MigrationError(
                .invalidTarget,
                "cannot roll back \(steps) migrations: only \(history.count) \(history.count == 1 ? "is" : "are") "
                    + "applied.")
        }
        return try rollback(db, history: history, undoing: Array(history.suffix(steps).reversed()), onProgress)
    }

    /// Rolls back every applied migration newer than `version`, newest first. `version` must be an
    /// applied version, or 0 to roll back everything.
    @discardableResult
    public func rollback(
        _ db: Database, to version: Int64, onProgress: (MigrationRun) -> Void = { _ in }
    ) throws(MigrationError) -> [MigrationRun] {
        let history = try readHistory(db)
        guard version == 0 || history.contains(where: { $0.version == version }) else {
            throw MigrationError(
                .invalidTarget,
                "version \(version) is not applied, so it cannot be rolled back to; `docket status` lists the "
                    + "applied versions (0 rolls back everything).")
        }
        return try rollback(
            db, history: history, undoing: history.filter { $0.version > version }.reversed(), onProgress)
    }

    private func rollback(
        _ db: Database, history: [AppliedMigration], undoing targets: [AppliedMigration],
        _ onProgress: (MigrationRun) -> Void
    ) throws(MigrationError) -> [MigrationRun] {
        var problems = definitionProblems
        if problems.isEmpty { problems = self.problems(with: history).filter { $0.kind == .modified } }
        // Resolve every down step before running any, so an irreversible one stops the whole rollback.
        var plan: [(Migration, MigrationStep)] = []
        for applied in targets {
            do {
                plan.append(try downStep(for: applied))
            } catch {
                problems.append(error)
            }
        }
        if let error = MigrationError.combining(problems) { throw error }
        var runs: [MigrationRun] = []
        for (migration, step) in plan {
            onStart?(migration.id)
            let milliseconds: Double?
            do {
                milliseconds = try db.blocking.writeWithoutTransaction { connection in
                    try Self.run(
                        step, of: migration, direction: .down, on: connection, prepare: nil,
                        isDone: { try !MigrationHistory.contains($0, version: migration.version) },
                        record: { connection, _ in
                            try connection.execute(MigrationHistory.deleteSQL, [migration.version])
                        })
                }
            } catch {
                throw Self.failure(error, running: migration, direction: .down, after: runs)
            }
            let run = MigrationRun(
                version: migration.version, name: migration.name, direction: .down,
                durationMilliseconds: milliseconds ?? 0, wasDoneByAnotherRunner: milliseconds == nil)
            runs.append(run)
            onProgress(run)
        }
        return runs
    }

    /// The migration and down step that undo `applied`: the file's down section while the file is
    /// there, else the down section stored when it was applied, else the registered Swift closure.
    private func downStep(for applied: AppliedMigration) throws(MigrationError) -> (Migration, MigrationStep) {
        if let migration = migrations.first(where: { $0.version == applied.version }) {
            guard let down = migration.down else {
                throw MigrationError(
                    .irreversible,
                    "\(migration.id) is irreversible (its down section is marked 'irreversible'), so it cannot be "
                        + "rolled back and nothing was rolled back; write a new migration that undoes it, or "
                        + "restore a backup.",
                    path: migration.path, line: migration.downMarkerLine)
            }
            return (migration, down)
        }
        let id = "\(applied.version)_\(applied.name)"
        guard usesStoredDownSQL || applied.downSQL == nil else {
            throw MigrationError(
                .missingMigration,
                "\(id) is applied but its file is gone, so its down section can only come from \(MigrationHistory.table), "
                    + "where it was stored when it was applied; nothing was rolled back. Restore the file, or roll back "
                    + "with the stored SQL explicitly: `docket rollback --use-stored-down` (Migrator.usesStoredDownSQL)."
            )
        }
        guard applied.isReversible else {
            throw MigrationError(
                .irreversible,
                "\(id) was applied as irreversible, so it cannot be rolled back and nothing was rolled back.")
        }
        guard let text = applied.downSQL else {
            throw MigrationError(
                .missingMigration,
                "\(id) was applied from Swift and is no longer registered, so its down step is unknown; register "
                    + "it again to roll it back.")
        }
        let path = "\(id) (down section stored in \(MigrationHistory.table))"
        let firstLine = applied.downLine ?? 1
        let statements: [SQLStatement]
        switch SQLScript.split(text, firstLine: firstLine) {
        case .success(let result): statements = result
        case .failure(let error):
            throw MigrationError(
                .incompleteStatement, "the stored down section has an incomplete statement.", path: path,
                line: error.line)
        }
        let words = (applied.downOptions ?? "").split(separator: " ")
        let options = (try? MigrationOptions(words: words)) ?? MigrationOptions()
        let step = MigrationStep(body: .sql(statements), options: options, text: text, firstLine: firstLine)
        let migration = Migration(
            version: applied.version, name: applied.name, path: path, up: step, down: step, checksum: applied.checksum,
            downMarkerLine: nil)
        return (migration, step)
    }
}
