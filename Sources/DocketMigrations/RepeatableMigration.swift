import Docket
import Foundation

/// A migration run again whenever its file changes: views, triggers, seed data. Read from a file
/// named `R__<name>.sql` in the migrations folder:
///
/// ```sql
/// -- The totals the shop's reports read.
/// -- migrate:repeatable
/// DROP VIEW IF EXISTS book_totals;
/// CREATE VIEW book_totals AS SELECT book_id, sum(quantity) AS sold FROM order_lines GROUP BY book_id;
/// ```
///
/// Only comments may come before the `-- migrate:repeatable` line, which takes the options of a
/// versioned migration's marker (`transaction:false`, `foreign_keys:on`). There is no down section:
/// a repeatable migration must be safe to run again on a database where it already ran (drop, then
/// create). `migrate` runs the repeatable migrations after the versioned ones, in name order, each
/// whose checksum differs from the one recorded in `docket_repeatable_migrations` (or that never
/// ran), each in its own transaction with its history row.
public struct RepeatableMigration: Sendable {
    /// What follows `R__` in the file name, without `.sql`.
    public let name: String
    public let path: String
    public let step: MigrationStep
    /// SHA-256 of the normalized text after the marker, as for a versioned migration's up section.
    public let checksum: String

    /// `R__<name>`, as in the file name.
    public var id: String { "R__\(name)" }

    /// The migration as the runner runs it (and `docket plan` lists it): version 0, which no
    /// versioned migration can have.
    public var migration: Migration {
        Migration(version: 0, name: name, path: path, up: step, down: nil, checksum: checksum, downMarkerLine: nil)
    }

    /// `R__<name>.sql` names a repeatable migration: the name, or `nil`.
    static func name(of fileName: String) -> String? {
        guard fileName.hasPrefix("R__"), fileName.hasSuffix(".sql") else { return nil }
        let name = fileName.dropFirst(3).dropLast(4)
        guard !name.isEmpty,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") })
        else { return nil }
        return String(name)
    }

    /// Parses a repeatable migration's file; every problem is named with its line.
    static func parse(path: String, name: String, contents: String) -> Result<RepeatableMigration, MigrationErrors> {
        let lines = MigrationFile.normalizedLines(contents)
        guard let markerIndex = lines.firstIndex(where: { $0.hasPrefix("-- migrate:repeatable") }) else {
            return .failure(
                MigrationErrors(problems: [
                    MigrationError(
                        .malformedFile,
                        "a repeatable migration needs a '-- migrate:repeatable' line before its SQL "
                            + "(only comments may come before it).", path: path, line: 1)
                ]))
        }
        var problems: [MigrationError] = []
        for (index, line) in lines[..<markerIndex].enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty && !line.hasPrefix("--") {
            problems.append(
                MigrationError(
                    .malformedFile, "only comments may come before '-- migrate:repeatable'.", path: path,
                    line: index + 1))
        }
        let words = lines[markerIndex].dropFirst("-- migrate:repeatable".count).split(separator: " ")
        var options = MigrationOptions()
        do {
            options = try MigrationOptions(words: words)
        } catch {
            problems.append(
                MigrationError(
                    .malformedFile, error.message(marker: "repeatable"), path: path, line: markerIndex + 1))
        }
        let text = lines[(markerIndex + 1)...].joined(separator: "\n")
        var statements: [SQLStatement] = []
        switch SQLScript.split(text, firstLine: markerIndex + 2) {
        case .success(let split): statements = split
        case .failure(let error):
            problems.append(
                MigrationError(
                    .incompleteStatement, "this statement never ends (an unclosed quote, comment or trigger body).",
                    path: path, line: error.line))
        }
        if statements.isEmpty && problems.isEmpty {
            problems.append(
                MigrationError(
                    .malformedFile, "the repeatable migration holds no SQL.", path: path, line: markerIndex + 1))
        }
        guard problems.isEmpty else { return .failure(MigrationErrors(problems: problems)) }
        return .success(
            RepeatableMigration(
                name: name, path: path,
                step: MigrationStep(body: .sql(statements), options: options, text: text, firstLine: markerIndex + 2),
                checksum: MigrationFile.checksum(of: text)))
    }
}

/// One row of `docket_repeatable_migrations`: a repeatable migration as it last ran.
public struct AppliedRepeatable: Sendable, Hashable, Codable {
    public let name: String
    public let checksum: String
    public let appliedAt: String
    public let durationMilliseconds: Double
}

enum RepeatableHistory {
    static let createSQL = """
        CREATE TABLE IF NOT EXISTS docket_repeatable_migrations (
            name TEXT PRIMARY KEY,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            duration_ms REAL NOT NULL
        )
        """

    static let upsertSQL = """
        INSERT INTO docket_repeatable_migrations (name, checksum, applied_at, duration_ms) VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at,
        duration_ms = excluded.duration_ms
        """

    static func read(_ connection: Connection) throws -> [AppliedRepeatable] {
        guard try MigrationHistory.exists("docket_repeatable_migrations", on: connection) else { return [] }
        return try connection.fetchAll(
            "SELECT name, checksum, applied_at, duration_ms FROM docket_repeatable_migrations ORDER BY name"
        ).map { row in
            AppliedRepeatable(
                name: row.values[0].textValue ?? "", checksum: row.values[1].textValue ?? "",
                appliedAt: row.values[2].textValue ?? "", durationMilliseconds: row.values[3].doubleValue ?? 0)
        }
    }
}

extension Migrator {
    /// The repeatable migrations' history rows, by name; empty before any ran.
    public func readRepeatableHistory(_ db: Database) throws(MigrationError) -> [AppliedRepeatable] {
        do {
            return try db.blocking.read { try RepeatableHistory.read($0) }
        } catch {
            throw MigrationError.wrapping(error, doing: "reading the repeatable migrations' history of \(db.path)")
        }
    }

    /// The repeatable migrations `migrate` would run now, in name order: those never run, and those
    /// whose file changed since they last ran.
    public func pendingRepeatables(history: [AppliedRepeatable]) -> [RepeatableMigration] {
        let recorded = Dictionary(history.map { ($0.name, $0.checksum) }, uniquingKeysWith: { $1 })
        return repeatables.filter { recorded[$0.name] != $0.checksum }
    }

    /// Runs the pending repeatable migrations (``pendingRepeatables(history:)``) on `db`, each in
    /// its own transaction with its history row; another runner that ran the same one first makes
    /// this one skip it.
    func applyRepeatables(_ db: Database, after runs: [MigrationRun], onProgress: (MigrationRun) -> Void)
        throws(MigrationError) -> [MigrationRun]
    {
        var runs = runs
        let history = try readRepeatableHistory(db)
        for repeatable in pendingRepeatables(history: history) {
            let migration = repeatable.migration
            onStart?(migration.id)
            let milliseconds: Double?
            do {
                milliseconds = try db.blocking.writeWithoutTransaction { connection in
                    try Self.run(
                        repeatable.step, of: migration, direction: .up, on: connection,
                        prepare: RepeatableHistory.createSQL,
                        isDone: { connection in
                            try connection.scalar(
                                "SELECT checksum FROM docket_repeatable_migrations WHERE name = ?", [repeatable.name])
                                == .text(repeatable.checksum)
                        },
                        record: { connection, milliseconds in
                            try connection.execute(
                                RepeatableHistory.upsertSQL,
                                [
                                    repeatable.name, repeatable.checksum, MigrationHistory.timestamp(Date()),
                                    milliseconds,
                                ])
                        })
                }
            } catch {
                throw Self.failure(error, running: migration, direction: .up, after: runs)
            }
            let run = MigrationRun(
                version: 0, name: repeatable.name, direction: .up, durationMilliseconds: milliseconds ?? 0,
                wasDoneByAnotherRunner: milliseconds == nil)
            runs.append(run)
            onProgress(run)
        }
        return runs
    }
}
