import Docket
import Foundation

/// What ``Migrator/squash(to:)`` makes: the file that replaces every migration up to a version.
public struct Squash: Sendable {
    /// `<version>_squashed.sql`: the version of the last migration it replaces.
    public let fileName: String
    /// The file's text.
    public let contents: String
    /// The migrations it replaces, by version (their files are to be removed).
    public let replaced: [Migration]
}

extension Migrator {
    /// One migration that replaces every migration up to `version`: its up section is the schema
    /// those migrations produce (as `docket schema dump` writes it, on a scratch database), its
    /// version is `version`, and a `-- docket:squashed <version> <checksum>` line for each
    /// migration it replaces lets a database that applied them count it as applied. New databases
    /// run it instead of the old files. It is irreversible.
    ///
    /// Refused (nothing is written) when `version` names no migration, when one of the migrations
    /// is registered in Swift (it has no file to replace), or when the migrations leave rows in a
    /// new database (seed data): a schema-only squash would drop those rows for new databases
    /// without a word, so the error names the tables; move seed data to a repeatable migration.
    /// The result is checked: the squashed migration alone produces the same schema.
    public func squash(to version: Int64) throws(MigrationError) -> Squash {
        if let error = MigrationError.combining(definitionProblems) { throw error }
        guard migrations.contains(where: { $0.version == version }) else {
            throw MigrationError(
                .invalidTarget, "no migration has version \(version); `docket status` lists the versions.")
        }
        let partial = upTo(version)
        let replaced = partial.migrations
        var problems: [MigrationError] = []
        for migration in replaced {
            guard case .sql = migration.up.body, migration.path != nil else {
                problems.append(
                    MigrationError(
                        .invalidTarget,
                        "\(migration.id) is registered in Swift: squash replaces files only; squash up to a version "
                            + "before it."))
                continue
            }
        }
        if let error = MigrationError.combining(problems) { throw error }

        let (schema, seeded) = try partial.scratchSchemaAndRows()
        // Rows the migrations leave on an empty database are seed data, which a schema-only squash
        // would not give new databases. (Rows copied by a table rebuild are not: there are none.)
        guard seeded.isEmpty else {
            throw MigrationError(
                .invalidTarget,
                "the migrations up to \(version) leave rows in a new database ("
                    + seeded.map { "\($0.count) in \($0.table)" }.joined(separator: ", ")
                    + "): a squash keeps only the schema, so new databases would not get them. Move the statements "
                    + "that insert them to a repeatable migration (R__<name>.sql), or squash up to a version before "
                    + "the first of them. Nothing was written.")
        }
        // The dump's statements, without its header.
        let body = schema.split(separator: "\n", omittingEmptySubsequences: false).drop { $0.hasPrefix("--") }
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        var squashes: [Int64: String] = [:]
        for migration in replaced {
            // A squash being squashed again passes on the checksums of what it replaced.
            for (old, checksum) in migration.squashes { squashes[old] = checksum }
            if let checksum = migration.checksum, migration.squashes[migration.version] == nil {
                squashes[migration.version] = checksum
            }
        }
        let first = replaced.first!.version
        var text = """
            -- Squashed by `docket squash --to \(version)` on \(MigrationHistory.timestamp(Date())): the schema after
            -- the \(replaced.count) migration\(replaced.count == 1 ? "" : "s") from \(first) to \(version). A database that applied them counts
            -- this one as applied; a new database runs it instead of them. Do not edit these lines:

            """
        for (old, checksum) in squashes.sorted(by: { $0.key < $1.key }) {
            text += "-- docket:squashed \(old) \(checksum)\n"
        }
        text += "\n-- migrate:up\n\(body)\n\n-- migrate:down irreversible\n"
        let fileName = "\(version)_squashed.sql"

        // The check: the squashed migration alone gives the same schema.
        let squashed: Migration
        switch MigrationFile.parse(path: fileName, version: version, name: "squashed", contents: text) {
        case .success(let migration): squashed = migration
        case .failure(let errors):
            throw MigrationError(
                .invalidMigrations, "the squashed migration does not parse:", problems: errors.problems)
        }
        var alone = Migrator()
        alone.insert(squashed)
        let again = try alone.scratchSchema()
        guard Self.statements(of: again) == Self.statements(of: schema) else {
            throw MigrationError(
                .invalidMigrations,
                "the squashed migration does not reproduce the schema at \(version) (a statement SQLite stores "
                    + "differs when run again); nothing was written.")
        }
        return Squash(fileName: fileName, contents: text, replaced: replaced)
    }

    /// A schema dump without its header comments.
    private static func statements(of dump: String) -> [Substring] {
        dump.split(separator: "\n").filter { !$0.hasPrefix("--") }
    }
}
