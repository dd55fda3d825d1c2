import Docket
import Foundation

extension Migrator {
    /// Runs one step of `migration` on the writer connection, with no transaction open on entry.
    ///
    /// Follows SQLite's procedure for schema changes (https://sqlite.org/lang_altertable.html#otheralter):
    /// foreign keys off *before* the transaction (the pragma is a no-op inside one), `BEGIN IMMEDIATE`,
    /// the statements and the history change, `PRAGMA foreign_key_check`, `COMMIT`, foreign keys back on.
    /// Any error rolls the whole step back, history row included: there is no half-applied state.
    ///
    /// `isDone` reads the history inside the transaction: `BEGIN IMMEDIATE` waited for any other
    /// runner's write to finish, so what it sees is final, and a step another runner already did is
    /// skipped (returns `nil`).
    ///
    /// - Returns: the step's duration in milliseconds, or `nil` when it was already done.
    static func run(
        _ step: MigrationStep, of migration: Migration, direction: MigrationRun.Direction, on connection: Connection,
        prepare: String?, isDone: (Connection) throws -> Bool, record: (Connection, Double) throws -> Void
    ) throws -> Double? {
        let options = step.options
        let foreignKeysAreOn = try connection.scalar("PRAGMA foreign_keys") == .integer(1)
        let turnsForeignKeysOff = options.transaction && options.foreignKeysOff && foreignKeysAreOn
        if turnsForeignKeysOff { try connection.execute("PRAGMA foreign_keys = OFF") }
        defer { if turnsForeignKeysOff { try? connection.execute("PRAGMA foreign_keys = ON") } }
        do {
            if options.transaction { try connection.execute("BEGIN IMMEDIATE") }
            if let prepare { try connection.execute(prepare) }
            if try isDone(connection) {
                if connection.isInTransaction { try connection.execute("ROLLBACK") }
                return nil
            }
            let start = ContinuousClock.now
            try runBody(step, of: migration, direction: direction, on: connection)
            let elapsed = ContinuousClock.now - start
            let milliseconds =
                Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            try record(connection, milliseconds)
            if turnsForeignKeysOff { try checkForeignKeys(connection, migration: migration, direction: direction) }
            if options.transaction { try connection.execute("COMMIT") }
            return milliseconds
        } catch {
            if connection.isInTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs the statements one at a time, so a failure can name the statement and its line.
    private static func runBody(
        _ step: MigrationStep, of migration: Migration, direction: MigrationRun.Direction, on connection: Connection
    ) throws {
        switch step.body {
        case .sql(let statements):
            for (index, statement) in statements.enumerated() {
                do {
                    try connection.execute(statement.sql)
                } catch let error as DatabaseError {
                    throw MigrationError(
                        .statementFailed,
                        "statement \(index + 1) of \(statements.count) of the \(direction.rawValue) section failed: "
                            + "\(error.message) (\(error.codeName)).",
                        path: migration.path ?? "\(migration.id) (history)", line: statement.line,
                        databaseError: error)
                }
            }
        case .swift(let body):
            do {
                try body(connection)
            } catch {
                throw MigrationError(
                    .statementFailed,
                    "the Swift migration \(migration.id) failed while going \(direction.rawValue): \(error)",
                    databaseError: error as? DatabaseError)
            }
        }
    }

    /// `PRAGMA foreign_key_check` (https://sqlite.org/pragma.html#pragma_foreign_key_check): throws,
    /// listing the offending rows, when the step left any row pointing at nothing.
    private static func checkForeignKeys(
        _ connection: Connection, migration: Migration, direction: MigrationRun.Direction
    ) throws {
        let rows = try connection.fetchAll("PRAGMA foreign_key_check")
        guard !rows.isEmpty else { return }
        let shown = rows.prefix(10).map { row in
            let table = row.values[0].textValue ?? "?"
            let rowid = row.values[1].integerValue.map(String.init) ?? "NULL"
            let parent = row.values[2].textValue ?? "?"
            return "\(table) row \(rowid) references a missing row of \(parent)"
        }
        let more = rows.count > 10 ? "; and \(rows.count - 10) more" : ""
        throw MigrationError(
            .foreignKeyViolation,
            "the \(direction.rawValue) section leaves \(rows.count) row\(rows.count == 1 ? "" : "s") that break "
                + "foreign keys: \(shown.joined(separator: "; "))\(more).",
            path: migration.path,
            line: migration.path == nil
                ? nil : (direction == .up ? migration.up.firstLine - 1 : migration.down.map { $0.firstLine - 1 }))
    }

    /// The error for a migration that failed in a run, saying what became of the database.
    static func failure(
        _ error: any Error, running migration: Migration, direction: MigrationRun.Direction, after runs: [MigrationRun]
    ) -> MigrationError {
        let base = MigrationError.wrapping(error, doing: "running \(migration.id)")
        let step = direction == .up ? migration.up : migration.down
        var outcome: String
        if step?.options.transaction == false {
            outcome =
                " The migration runs outside a transaction (transaction:false): the statements before the failing "
                + "one stay applied and it was not recorded; make it safe to run again, then run it again."
        } else {
            outcome = direction == .up ? " The migration was rolled back" : " The rollback of this migration was undone"
            outcome += "; nothing of it was applied."
        }
        let done = runs.filter { !$0.wasDoneByAnotherRunner }.count
        if done > 0 {
            let verb = direction == .up ? "applied" : "rolled back"
            outcome += " The \(done) migration\(done == 1 ? "" : "s") \(verb) before it in this run "
            outcome += done == 1 ? "was kept." : "were kept."
        }
        return MigrationError(
            base.kind, base.message + outcome, path: base.path ?? migration.path, line: base.line,
            databaseError: base.databaseError, problems: base.problems)
    }
}

extension Migrator {
    /// Runs every migration on a new, empty scratch database: up, then down (the reversible ones,
    /// newest first, as far back as they go), then up again. It finds what no reading of the files
    /// can: a statement SQLite refuses (`CREATE TABLEX …`), a down section that does not undo its up
    /// section (the second up then fails). The scratch database is a temporary file, removed
    /// afterwards; nothing else is touched. `docket validate` runs it.
    /// An empty database in a temporary folder, removed when it closes: where `validate`, `lint`,
    /// `schema` and `squash` run the migrations, never on the application's database.
    static func scratchDatabase() throws(MigrationError) -> Database {
        do {
            return try Database.temporary()
        } catch {
            throw MigrationError.wrapping(error, doing: "creating a scratch database")
        }
    }

    public func checkOnScratchDatabase() throws(MigrationError) {
        let db = try Self.scratchDatabase()
        defer { db.close() }
        var scratch = self
        scratch.allowsOutOfOrder = true
        do {
            try scratch.migrate(db)
            let applied = try scratch.readHistory(db)
            let reversible = applied.reversed().prefix { $0.isReversible }.count
            if reversible > 0 { try scratch.rollback(db, steps: reversible) }
            try scratch.migrate(db)
        } catch {
            // Invalid migrations (exit 65 in the CLI), whatever the kind of the failure on the scratch file.
            throw MigrationError(
                .invalidMigrations, "the migrations do not run on an empty scratch database:", problems: [error])
        }
    }
}
