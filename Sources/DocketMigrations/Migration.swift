import Docket

/// One versioned change to the schema or the data: an up step, and a down step that undoes it
/// (none when the migration is irreversible).
///
/// Migrations come from `<version>_<name>.sql` files (see ``Migrator/init(folder:)``) or are registered
/// in Swift (``Migrator/register(version:name:up:down:)``); both share one version space.
public struct Migration: Sendable, Identifiable {
    /// The version: the number before the first `_` of the file name. Migrations run in version order.
    public let version: Int64
    /// The name: what follows the version in the file name, without `.sql`.
    public let name: String
    /// The file the migration was read from, as the migrator was given it; `nil` for Swift migrations.
    public let path: String?
    /// Applies the migration.
    public let up: MigrationStep
    /// Undoes the migration; `nil` for an irreversible one (`-- migrate:down irreversible`).
    public let down: MigrationStep?
    /// The SHA-256 of the normalized up section (hex); `nil` for Swift migrations, which have no text.
    public let checksum: String?

    /// The line of the `-- migrate:down` marker, to point at `irreversible`.
    let downMarkerLine: Int?

    /// For a migration written by `docket squash`: each migration it replaces, by version, with
    /// the checksum that migration was applied with (`-- docket:squashed <version> <checksum>`
    /// lines before the up marker). A database that applied all of them counts this one as applied.
    public internal(set) var squashes: [Int64: String] = [:]

    /// `<version>_<name>`, as in the file name (`R__<name>` for a repeatable migration as the
    /// runner runs it, with version 0).
    public var id: String { version == 0 ? "R__\(name)" : "\(version)_\(name)" }
}

/// One direction (up or down) of a migration: what runs, and how.
public struct MigrationStep: Sendable {
    /// What the step runs.
    public enum Body: Sendable {
        /// SQL statements, split by SQLite's parser.
        case sql([SQLStatement])
        /// A Swift closure, for data backfills.
        case swift(@Sendable (Connection) throws -> Void)
    }

    /// What the step runs.
    public let body: Body
    /// How the step runs.
    public let options: MigrationOptions
    /// The section's text as written (normalized), kept in the history table for down steps.
    let text: String?
    /// The file line where the section's text starts.
    let firstLine: Int

    /// The statements, or an empty list for a Swift step.
    public var statements: [SQLStatement] {
        if case .sql(let statements) = body { return statements }
        return []
    }

    init(body: Body, options: MigrationOptions, text: String? = nil, firstLine: Int = 1) {
        self.body = body
        self.options = options
        self.text = text
        self.firstLine = firstLine
    }
}

/// How a migration step runs. Written on the section's marker line, e.g.
/// `-- migrate:up transaction:false` or `-- migrate:down foreign_keys:on`.
public struct MigrationOptions: Sendable, Hashable, CustomStringConvertible {
    /// `transaction:true` (default) runs the step and its history row in one `BEGIN IMMEDIATE`
    /// transaction. `transaction:false` runs each statement on its own, for the few statements
    /// SQLite refuses inside a transaction (`VACUUM`, some pragmas); such a step must be safe to run again.
    public var transaction = true
    /// `foreign_keys:off` (default) turns foreign keys off before the transaction begins and runs
    /// `PRAGMA foreign_key_check` before it commits, as SQLite's table-rebuild procedure requires
    /// (https://sqlite.org/lang_altertable.html#otheralter). `foreign_keys:on` keeps them on, so each
    /// statement is checked as it runs.
    public var foreignKeysOff = true

    /// The defaults: in a transaction, foreign keys off and checked before commit.
    public init() {}

    /// The options as written on a marker line (only those that differ from the defaults).
    public var description: String {
        var words: [String] = []
        if !transaction { words.append("transaction:false") }
        if !foreignKeysOff { words.append("foreign_keys:on") }
        return words.joined(separator: " ")
    }

    /// Parses the words of a marker line after `-- migrate:up`/`down` (without `irreversible`).
    init(words: [Substring]) throws(OptionError) {
        for word in words {
            switch word {
            case "transaction:true": transaction = true
            case "transaction:false": transaction = false
            case "foreign_keys:off": foreignKeysOff = true
            case "foreign_keys:on": foreignKeysOff = false
            default: throw OptionError(word: String(word))
            }
        }
        if !transaction && words.contains("foreign_keys:off") {
            throw OptionError(word: "foreign_keys:off", needsTransaction: true)
        }
        // Outside a transaction a violation could not be undone, so foreign keys stay on.
        if !transaction { foreignKeysOff = false }
    }

    struct OptionError: Error {
        let word: String
        var needsTransaction = false

        /// What is wrong, for the marker `-- migrate:<marker>`; `more` names options beyond the two.
        func message(marker: String, more: String = "") -> String {
            needsTransaction
                ? "'foreign_keys:off' needs a transaction; remove it or 'transaction:false'."
                : "unknown option '\(word)' on the '-- migrate:\(marker)' marker; the options are "
                    + "transaction:true|false and foreign_keys:on|off\(more)."
        }
    }
}
