import Docket
import Foundation

/// Why the migrator refused to run, or why a migration failed while running.
///
/// Every message reads as a sentence naming the file and line when there is one, and says what
/// happened to the database, so that a person reading a CI log can act on it:
///
/// ```text
/// Migrations/20261123120300_add_isbn.sql:14: statement 2 of 3 failed: no such table: book (SQLITE_ERROR).
/// The migration was rolled back; the 2 migrations applied before it in this run were kept.
/// ```
///
/// When validation finds several problems at once, the error's ``kind`` is ``Kind/invalidMigrations``
/// and ``problems`` lists each of them.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for code that reacts differently to each case (the CLI maps them to exit codes).
    public enum Kind: String, Sendable, Codable {
        /// A `.sql` file whose name is not `<version>_<name>.sql`.
        case malformedFileName
        /// Two migrations (files or registered in Swift) with the same version number.
        case duplicateVersion
        /// A file whose `-- migrate:up`/`-- migrate:down` markers or options are wrong, or that has SQL
        /// outside a section.
        case malformedFile
        /// A file with no `-- migrate:up` section, or an empty one.
        case missingUpSection
        /// A file with no `-- migrate:down` section, or an empty one not marked `irreversible`.
        case missingDownSection
        /// SQL that SQLite's parser says is not complete (an unclosed quote, comment or trigger).
        case incompleteStatement
        /// An applied migration whose file was edited since (its checksum changed).
        case modified
        /// A pending migration older than the latest applied one, without `allowsOutOfOrder`.
        case outOfOrder
        /// A rollback of a migration marked `-- migrate:down irreversible`.
        case irreversible
        /// A rollback of an applied migration that has neither its file, nor a stored down section,
        /// nor a registered Swift closure.
        case missingMigration
        /// A target (`--to`, `--steps`) that names no migration, or lies on the wrong side of the
        /// database's current version.
        case invalidTarget
        /// A statement of a migration failed; the migration was rolled back.
        case statementFailed
        /// A migration left rows that break foreign keys; the migration was rolled back.
        case foreignKeyViolation
        /// The migrations folder does not exist or cannot be read.
        case folderNotFound
        /// The database could not be read or written (busy, not a database, …).
        case database
        /// Several of the problems above, listed in ``MigrationError/problems``.
        case invalidMigrations
        /// A database applied some, not all, of the migrations a squashed migration replaces.
        case partiallySquashed
    }

    /// What went wrong.
    public let kind: Kind
    /// A sentence describing the problem, without the file and line prefix.
    public let message: String
    /// The migration file involved, as the migrator was given it (e.g. `Migrations/20261123_x.sql`).
    public let path: String?
    /// The 1-based line in ``path`` where the problem is.
    public let line: Int?
    /// SQLite's error, when SQLite reported one.
    public let databaseError: DatabaseError?
    /// For ``Kind/invalidMigrations``: each problem found.
    public let problems: [MigrationError]

    /// Creates an error. Docket raises these; the initializer is public for tests and tools.
    public init(
        _ kind: Kind, _ message: String, path: String? = nil, line: Int? = nil, databaseError: DatabaseError? = nil,
        problems: [MigrationError] = []
    ) {
        self.kind = kind
        self.message = message
        self.path = path
        self.line = line
        self.databaseError = databaseError
        self.problems = problems
    }

    /// `path:line: message`, as compilers print it, so editors and CI logs link to the line.
    public var description: String {
        var text = ""
        if let path {
            text += path
            if let line { text += ":\(line)" }
            text += ": "
        }
        text += message
        for problem in problems { text += "\n  " + problem.description }
        return text
    }

    /// One error for a list of problems: the problem itself when there is one.
    static func combining(_ problems: [MigrationError]) -> MigrationError? {
        switch problems.count {
        case 0: return nil
        case 1: return problems[0]
        default:
            return MigrationError(
                .invalidMigrations, "\(problems.count) problems were found; nothing was run:", problems: problems)
        }
    }

    /// Wraps any error thrown by the database layer.
    static func wrapping(_ error: any Error, doing what: String) -> MigrationError {
        if let error = error as? MigrationError { return error }
        if let error = error as? DatabaseError {
            return MigrationError(.database, "\(what) failed: \(error)", databaseError: error)
        }
        return MigrationError(.database, "\(what) failed: \(error)")
    }
}
