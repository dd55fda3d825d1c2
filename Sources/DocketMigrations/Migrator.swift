import Docket
import Foundation

/// Applies and rolls back versioned migrations, recording each in the `docket_migrations` table.
///
/// ```swift
/// var migrator = try Migrator(folder: "Migrations")
/// migrator.register(version: 20261124090000, name: "backfill_prices") { db in
///     try db.execute("UPDATE books SET price = 9.99 WHERE price = 0")
/// }
/// try migrator.migrate(db)          // applies every pending migration, in version order
/// try migrator.rollback(db)         // undoes the latest one
/// ```
///
/// Guarantees (see `Docs/Migrations.md`):
/// - everything is validated before anything runs: file names, duplicate versions, sections,
///   edited applied migrations, pending migrations older than the latest applied one;
/// - each migration runs in its own `BEGIN IMMEDIATE` transaction together with its history row,
///   with foreign keys off and `PRAGMA foreign_key_check` before commit: it lands whole or not at all;
/// - runners started at once against one database apply each migration exactly once.
public struct Migrator: Sendable {
    /// Every migration, from files and from Swift, sorted by version.
    public private(set) var migrations: [Migration] = []
    /// The repeatable migrations (`R__<name>.sql` files), in name order: the order they run in.
    public private(set) var repeatables: [RepeatableMigration] = []
    /// When `true`, pending migrations older than the latest applied one run too (in version order)
    /// instead of being refused. The CLI's `--allow-out-of-order`.
    public var allowsOutOfOrder = false
    /// `true` to roll back a migration whose file is gone with the down section stored in the
    /// history table when it was applied (`docket rollback --use-stored-down`). Default `false`:
    /// such a rollback is refused, since nobody can review SQL that is no longer in the repository.
    public var usesStoredDownSQL = false
    /// Called with a migration's id (`<version>_<name>`, or `R__<name>`) just before it runs, up or
    /// down, on the calling thread: what `docket migrate` uses to show the elapsed time of a long
    /// one. `onProgress` reports its end.
    public var onStart: (@Sendable (String) -> Void)?
    /// Problems found while reading files, reported by every operation before it runs anything.
    private var fileProblems: [MigrationError] = []

    /// A migrator with no migrations; add them with ``register(version:name:foreignKeysOff:up:down:)``.
    public init() {}

    /// Reads every `<version>_<name>.sql` file in `folder` (not its subfolders).
    ///
    /// Throws ``MigrationError/Kind/folderNotFound`` when the folder cannot be read. Problems in the
    /// files themselves (names, sections, duplicates) are collected and thrown, all together, by the
    /// first operation you call, before it runs anything.
    public init(folder: String) throws(MigrationError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MigrationError(
                .folderNotFound,
                "the migrations folder \(folder) does not exist or cannot be read; create it with `docket new NAME` "
                    + "or pass --migrations DIR.")
        }
        for fileName in names.sorted() where fileName.hasSuffix(".sql") && !fileName.hasPrefix(".") {
            let path = (folder as NSString).appendingPathComponent(fileName)
            if let name = RepeatableMigration.name(of: fileName) {
                guard let contents = readText(path) else { continue }
                switch RepeatableMigration.parse(path: path, name: name, contents: contents) {
                case .success(let repeatable): repeatables.append(repeatable)
                case .failure(let errors): fileProblems += errors.problems
                }
                continue
            }
            let version: Int64
            let name: String
            switch MigrationFile.checkName(fileName) {
            case .valid(let v, let n): (version, name) = (v, n)
            case .malformed:
                fileProblems.append(
                    MigrationError(
                        .malformedFileName,
                        "the file name is not <version>_<name>.sql, nor R__<name>.sql for a repeatable migration (digits, an underscore, then letters, digits, "
                            + "'_', '-' or '.'); rename it, e.g. to 20261123124500_create_books.sql.",
                        path: path))
                continue
            case .zeroVersion:
                fileProblems.append(
                    MigrationError(
                        .malformedFileName,
                        "version 0 is not a migration version: versions start at 1 (0 means \"before every "
                            + "migration\" to `rollback --to`); rename it, e.g. to 20261123124500_\(fileName.drop { $0 != "_" }.dropFirst()).",
                        path: path))
                continue
            case .versionTooLarge(let digits):
                fileProblems.append(
                    MigrationError(
                        .malformedFileName,
                        "version \(digits) is too large: a version is at most \(Int64.max) (19 digits); a UTC "
                            + "timestamp such as 20261123124500 has 14.", path: path))
                continue
            }
            guard let contents = readText(path) else { continue }
            switch MigrationFile.parse(path: path, version: version, name: name, contents: contents) {
            case .success(let migration): insert(migration)
            case .failure(let errors): fileProblems += errors.problems
            }
        }
    }

    /// A migration file's text, or `nil` after recording why it cannot be read.
    private mutating func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), let contents = String(data: data, encoding: .utf8)
        else {
            fileProblems.append(MigrationError(.malformedFile, "the file cannot be read as UTF-8 text.", path: path))
            return nil
        }
        return contents
    }

    /// Registers a migration written in Swift, for data backfills. It shares the version space of
    /// the files: give it a version no file uses (a UTC timestamp, like `docket new`).
    ///
    /// ```swift
    /// migrator.register(version: 20261124090000, name: "normalize_emails") { db in
    ///     try db.execute("UPDATE customers SET email = lower(email)")
    /// } down: { _ in }  // nothing to undo
    /// ```
    ///
    /// - Parameters:
    ///   - foreignKeysOff: as the `foreign_keys:off` option of a file (the default): foreign keys are off
    ///     while `up` or `down` runs and checked before the transaction commits.
    ///   - up: runs inside the migration's transaction; it must not begin or commit one.
    ///   - down: undoes `up`; `nil` makes the migration irreversible.
    public mutating func register(
        version: Int64, name: String, foreignKeysOff: Bool = true,
        up: @escaping @Sendable (Connection) throws -> Void,
        down: (@Sendable (Connection) throws -> Void)? = nil
    ) {
        var options = MigrationOptions()
        options.foreignKeysOff = foreignKeysOff
        insert(
            Migration(
                version: version, name: name, path: nil, up: MigrationStep(body: .swift(up), options: options),
                down: down.map { MigrationStep(body: .swift($0), options: options) }, checksum: nil,
                downMarkerLine: nil))
    }

    mutating func insert(_ migration: Migration) {
        let index = migrations.firstIndex { $0.version > migration.version } ?? migrations.endIndex
        migrations.insert(migration, at: index)
    }

    // MARK: Validation

    /// Problems with the migrations themselves, whatever the database: those found in files, and
    /// versions used twice.
    var definitionProblems: [MigrationError] {
        var problems = fileProblems
        for migration in migrations where migration.version < 1 {
            problems.append(
                MigrationError(
                    .malformedFile,
                    "\(migration.id): version \(migration.version) is not a migration version; "
                        + "versions start at 1.", path: migration.path))
        }
        var index = migrations.startIndex
        while index < migrations.endIndex {
            let version = migrations[index].version
            let same = migrations[index...].prefix { $0.version == version }
            if same.count > 1 {
                let names = same.map { $0.path ?? "\($0.id) (registered in Swift)" }
                problems.append(
                    MigrationError(
                        .duplicateVersion,
                        "version \(version) is used by \(same.count) migrations: \(names.joined(separator: ", ")); "
                            + "give each a version of its own.",
                        path: same.dropFirst().first?.path ?? same.first?.path))
            }
            index += same.count
        }
        return problems
    }

    /// Compares the migrations with the database's history.
    func compare(_ history: [AppliedMigration]) -> Comparison {
        var comparison = Comparison()
        let byVersion = Dictionary(migrations.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        let appliedVersions = Set(history.map(\.version))
        for applied in history {
            if let migration = byVersion[applied.version], let checksum = migration.checksum,
                let recorded = applied.checksum, checksum != recorded,
                // A squashed migration at the version of the last one it replaces, which this
                // database applied as that file.
                migration.squashes[applied.version] != recorded
            {
                comparison.modified.append((applied, migration))
            }
        }
        let latest = history.last?.version ?? Int64.min
        for migration in migrations where !appliedVersions.contains(migration.version) {
            comparison.pending.append(migration)
            if migration.version < latest { comparison.outOfOrder.append(migration) }
        }
        return comparison
    }

    /// Every reason not to run: definition problems, edited applied migrations, and (unless allowed)
    /// pending migrations older than the latest applied one.
    func problems(with history: [AppliedMigration]) -> [MigrationError] {
        var problems = definitionProblems
        guard problems.isEmpty else { return problems }
        let comparison = compare(history)
        for (applied, migration) in comparison.modified {
            problems.append(
                MigrationError(
                    .modified,
                    "the up section was edited after the migration was applied on \(applied.appliedAt) "
                        + "(checksum \(migration.checksum!.prefix(12)), applied as \(applied.checksum!.prefix(12))); "
                        + "restore the file as it was applied, and write a new migration for the change; or, when the "
                        + "edit changed nothing that ran (or you made it by hand), accept it with `docket repair`, "
                        + "which records it.",
                    path: migration.path, line: migration.up.firstLine - 1))
        }
        // A database that applied some of the migrations a squash replaces, but not the last of them,
        // can take neither the squash (it would create what exists) nor the old files (gone).
        let applied = Set(history.map(\.version))
        for squash in migrations where !squash.squashes.isEmpty && !applied.contains(squash.version) {
            let done = squash.squashes.keys.filter { applied.contains($0) }.sorted()
            guard let first = done.first else { continue }
            problems.append(
                MigrationError(
                    .partiallySquashed,
                    "this database applied \(done.count) of the \(squash.squashes.count) migrations \(squash.id) "
                        + "replaces (from \(first)), but not all of them: it can take neither the squashed migration "
                        + "nor the old files. Migrate it to \(squash.version) with the migrations from before the "
                        + "squash (e.g. a checkout of that commit), then with these.",
                    path: squash.path, line: 1))
        }
        if !allowsOutOfOrder, let latest = history.last {
            for migration in comparison.outOfOrder {
                problems.append(
                    MigrationError(
                        .outOfOrder,
                        "the pending migration \(migration.id) is older than \(latest.version)_\(latest.name), the "
                            + "latest applied one; give it a newer version (rename the file), or run it anyway with "
                            + "--allow-out-of-order.",
                        path: migration.path, line: migration.path == nil ? nil : 1))
            }
        }
        return problems
    }

    /// Throws every problem that would stop ``migrate(_:to:onProgress:)``, without changing anything.
    ///
    /// With `history` empty (no database yet) only the migrations themselves are checked.
    public func validate(history: [AppliedMigration] = []) throws(MigrationError) {
        if let error = MigrationError.combining(problems(with: history)) { throw error }
    }

    /// Reads the database's history and throws every problem that would stop a migration.
    public func validate(_ db: Database) throws(MigrationError) {
        try validate(history: try readHistory(db))
    }

    /// The history table's rows, by version; empty when the table does not exist yet.
    public func readHistory(_ db: Database) throws(MigrationError) -> [AppliedMigration] {
        do {
            return try db.blocking.read { try MigrationHistory.read($0) }
        } catch {
            throw MigrationError.wrapping(error, doing: "reading the migration history of \(db.path)")
        }
    }

    // MARK: Status

    /// Every migration and every history row, by version, with its state.
    ///
    /// Unlike the other operations, status does not refuse edited or out-of-order migrations: it
    /// shows them. It throws only for problems in the migrations themselves (names, sections, duplicates).
    ///
    /// Two migrations with one version do not stop it: both are listed, each with its ``MigrationStatus/problem``.
    public func status(history: [AppliedMigration]) throws(MigrationError) -> [MigrationStatus] {
        let problems = definitionProblems
        if let error = MigrationError.combining(problems.filter { $0.kind != .duplicateVersion }) { throw error }
        let comparison = compare(history)
        let modified = Set(comparison.modified.map(\.0.version))
        let outOfOrder = Set(comparison.outOfOrder.map(\.version))
        var entries: [MigrationStatus] = []
        let byVersion = Dictionary(migrations.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        var squashedBy: [Int64: Int64] = [:]
        for squash in migrations { for version in squash.squashes.keys { squashedBy[version] = squash.version } }
        let appliedVersions = Set(history.map(\.version))
        for applied in history {
            let migration = byVersion[applied.version]
            // A row of a migration a squash replaced: applied, as long as the squash counts as applied.
            let squash =
                migration == nil ? squashedBy[applied.version].flatMap { appliedVersions.contains($0) ? $0 : nil } : nil
            var entry = MigrationStatus(
                version: applied.version, name: applied.name,
                state: migration == nil && squash == nil
                    ? .missing : modified.contains(applied.version) ? .modified : .applied,
                path: migration?.path, appliedAt: applied.appliedAt,
                durationMilliseconds: applied.durationMilliseconds, isReversible: applied.isReversible,
                isOutOfOrder: false)
            entry.squashedInto = squash
            entries.append(entry)
        }
        for migration in comparison.pending {
            entries.append(
                MigrationStatus(
                    version: migration.version, name: migration.name, state: .pending, path: migration.path,
                    appliedAt: nil, durationMilliseconds: nil, isReversible: migration.down != nil,
                    isOutOfOrder: outOfOrder.contains(migration.version)))
        }
        // Versions used twice: every file is listed, each marked.
        let duplicated = Dictionary(grouping: migrations, by: \.version).filter { $0.value.count > 1 }
        for (version, same) in duplicated {
            let problem =
                "version \(version) is used by \(same.count) migrations: "
                + same.map { $0.path ?? $0.id }.joined(separator: ", ") + "; give each a version of its own"
            for i in entries.indices where entries[i].version == version { entries[i].problem = problem }
            for migration in same where !entries.contains(where: { $0.version == version && $0.path == migration.path })
            {
                var entry = MigrationStatus(
                    version: version, name: migration.name, state: .pending, path: migration.path, appliedAt: nil,
                    durationMilliseconds: nil, isReversible: migration.down != nil, isOutOfOrder: false)
                entry.problem = problem
                entries.append(entry)
            }
        }
        return entries.sorted { ($0.version, $0.path ?? "") < ($1.version, $1.path ?? "") }
    }

    /// Reads the database's history and returns ``status(history:repeatables:)``.
    public func status(_ db: Database) throws(MigrationError) -> [MigrationStatus] {
        try status(history: try readHistory(db), repeatables: try readRepeatableHistory(db))
    }

    /// ``status(history:)``, followed by the repeatable migrations in name order, then those recorded
    /// whose file is gone (`missing`, which stops nothing).
    public func status(history: [AppliedMigration], repeatables applied: [AppliedRepeatable]) throws(MigrationError)
        -> [MigrationStatus]
    {
        var entries = try status(history: history)
        let recorded = Dictionary(applied.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for repeatable in repeatables {
            let last = recorded[repeatable.name]
            var entry = MigrationStatus(
                version: 0, name: repeatable.name,
                state: last == nil ? .pending : last!.checksum == repeatable.checksum ? .applied : .changed,
                path: repeatable.path, appliedAt: last?.appliedAt, durationMilliseconds: last?.durationMilliseconds,
                isReversible: false, isOutOfOrder: false)
            entry.isRepeatable = true
            entries.append(entry)
        }
        for last in applied where !repeatables.contains(where: { $0.name == last.name }) {
            var entry = MigrationStatus(
                version: 0, name: last.name, state: .missing, path: nil, appliedAt: last.appliedAt,
                durationMilliseconds: last.durationMilliseconds, isReversible: false, isOutOfOrder: false)
            entry.isRepeatable = true
            entries.append(entry)
        }
        return entries
    }
}

/// Migrations compared with a history.
struct Comparison {
    var pending: [Migration] = []
    var outOfOrder: [Migration] = []
    var modified: [(AppliedMigration, Migration)] = []
}

/// One line of `docket status`.
public struct MigrationStatus: Sendable, Hashable, Codable {
    /// Where a migration stands.
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Applied, and its file (if any) unchanged since.
        case applied
        /// Not applied yet.
        case pending
        /// Applied, but its file's up section was edited since: the checksums differ.
        case modified
        /// Applied, but its file is gone (or its Swift migration is no longer registered).
        case missing
        /// A repeatable migration whose file changed since it last ran: `migrate` runs it again.
        case changed
    }
    /// The migration's version.
    public let version: Int64
    /// The migration's name.
    public let name: String
    /// Where it stands.
    public let state: State
    /// Its file, when it has one.
    public let path: String?
    /// When it was applied (UTC, ISO 8601), for applied, modified and missing migrations.
    public let appliedAt: String?
    /// How long it took to apply, in milliseconds.
    public let durationMilliseconds: Double?
    /// Whether it can be rolled back.
    public let isReversible: Bool
    /// For a pending migration: whether it is older than the latest applied one.
    public let isOutOfOrder: Bool
    /// What is wrong with it, when something is: two files with one version, say. `docket status`
    /// still lists every migration, marks these, and exits 65.
    public var problem: String? = nil
    /// A repeatable migration (`R__<name>.sql`, version 0): pending until it first runs, then
    /// applied, or changed when its file changed since.
    public var isRepeatable = false
    /// For an applied migration whose file `docket squash` replaced: the version of the squashed
    /// migration that stands for it now.
    public var squashedInto: Int64? = nil
}
