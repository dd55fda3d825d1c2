import Docket
import DocketMigrations
import Foundation
import Testing

/// `docket plan` and `docket lint` through the built binary, on real files (issue 18).
@Suite struct PlanAndLintTests {
    static let authors = """
        -- migrate:up
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT);

        -- migrate:down
        DROP TABLE authors;
        """
    static let books = """
        -- migrate:up
        CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors(id), title TEXT NOT NULL);

        -- migrate:down
        DROP TABLE books;
        """

    struct PlanDocument: Decodable {
        struct Pending: Decodable {
            struct Statement: Decodable {
                let line: Int
                let sql: String
            }
            let version: Int64
            let name: String
            let options: String
            let statements: [Statement]
        }
        let pending: [Pending]
    }

    struct LintDocument: Decodable {
        let findings: [LintFinding]
    }

    @Test func givenPendingMigrations_whenPlanned_thenTheyArePrintedWithTheirSQLAndNothingIsApplied() throws {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]

        let text = try docket(["plan"] + arguments)
        #expect(text.status == 0)
        #expect(text.stdout.contains("2 migrations to apply, in this order:"))
        #expect(text.stdout.contains("-- 1 authors"))
        #expect(text.stdout.contains("CREATE TABLE books"))
        // Nothing ran: no file was even created.
        #expect(!FileManager.default.fileExists(atPath: workspace.database))

        let gated = try docket(["plan", "--exit-code", "--json"] + arguments)
        #expect(gated.status == 2)
        let document = try JSONDecoder().decode(PlanDocument.self, from: Data(gated.stdout.utf8))
        #expect(document.pending.map(\.version) == [1, 2])
        #expect(document.pending[1].statements.first?.line == 2)
        #expect(document.pending[1].statements.first?.sql.hasPrefix("CREATE TABLE books") == true)

        #expect(try docket(["migrate", "--to", "1"] + arguments).status == 0)
        let rest = try JSONDecoder().decode(
            PlanDocument.self, from: Data(try docket(["plan", "--json"] + arguments).stdout.utf8))
        #expect(rest.pending.map(\.name) == ["books"])

        #expect(try docket(["migrate"] + arguments).status == 0)
        let upToDate = try docket(["plan", "--exit-code"] + arguments)
        #expect(upToDate.status == 0)
        #expect(upToDate.stdout.contains("Up to date: nothing to apply."))
    }

    @Test func givenAnEditedAppliedMigration_whenPlanned_thenItIsRefusedAsMigrateWouldBe() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.write("1_authors.sql", Self.authors.replacingOccurrences(of: "bio TEXT", with: "bio BLOB"))
        let result = try docket(["plan", "--exit-code"] + arguments)
        #expect(result.status == 65)
        #expect(result.stderr.contains("the up section was edited"))
    }

    @Test func givenSafeMigrations_whenLinted_thenNothingIsFlaggedAndTheBookstoreRebuildPasses() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let result = try docket(["lint", "--migrations", workspace.migrations])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("6 migrations linted: nothing flagged."))
    }

    @Test func givenRiskyMigrations_whenLinted_thenEachIsFlaggedWithItsFileAndLine() throws {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        try workspace.write(
            "3_risky.sql",
            """
            -- migrate:up
            ALTER TABLE authors DROP COLUMN bio;
            DROP TABLE books;
            ALTER TABLE authors ADD COLUMN email TEXT NOT NULL;

            -- migrate:down
            SELECT 1;
            """)
        let result = try docket(["lint", "--migrations", workspace.migrations])
        #expect(result.status == 3)
        let file = workspace.path(of: "3_risky.sql")
        #expect(result.stderr.contains("\(file):2: [destructive] drops column bio of authors"))
        #expect(result.stderr.contains("\(file):3: [destructive] drops table books"))
        #expect(result.stderr.contains("\(file):4: [not-null-without-default]"))
        // The last statement fails on SQLite itself; it is flagged once, by the clearer check.
        #expect(!result.stderr.contains("\(file):4: [fails]"))
    }

    @Test func givenARebuildThatLosesAColumnWithForeignKeysOn_whenLinted_thenBothAreFlaggedAtTheDrop() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_rebuild.sql",
            """
            -- migrate:up foreign_keys:on
            CREATE TABLE new_authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            INSERT INTO new_authors (id, name) SELECT id, name FROM authors;
            DROP TABLE authors;
            ALTER TABLE new_authors RENAME TO authors;

            -- migrate:down
            SELECT 1;
            """)
        let result = try docket(["lint", "--json", "--migrations", workspace.migrations])
        #expect(result.status == 3)
        let findings = try JSONDecoder().decode(LintDocument.self, from: Data(result.stdout.utf8)).findings
        #expect(findings.map(\.check) == [.destructive, .rebuildWithForeignKeysOn])
        #expect(findings.map(\.line) == [4, 4])
        #expect(findings[0].message == "rebuilds authors without column bio: their values are lost")
        #expect(findings.allSatisfy { $0.version == 2 && $0.path == workspace.path(of: "2_rebuild.sql") })
    }

    @Test func givenAnIndexInATransactionlessMigrationAndAnAllowComment_whenLinted_thenOnlyTheUnsilencedIsFlagged()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_index.sql",
            """
            -- migrate:up transaction:false
            CREATE INDEX authors_name ON authors(name);
            CREATE INDEX IF NOT EXISTS authors_name_again ON authors(name);

            -- migrate:down transaction:false
            DROP INDEX authors_name;
            """)
        try workspace.write(
            "3_cleanup.sql",
            """
            -- migrate:up
            -- The column was never used: dropping it is intended.
            -- docket-lint: allow destructive
            ALTER TABLE authors DROP COLUMN bio;

            -- migrate:down
            ALTER TABLE authors ADD COLUMN bio TEXT;
            """)
        let result = try docket(["lint", "--json", "--migrations", workspace.migrations])
        #expect(result.status == 3)
        let findings = try JSONDecoder().decode(LintDocument.self, from: Data(result.stdout.utf8)).findings
        #expect(findings.map(\.check) == [.indexWithoutIfNotExists])
        #expect(findings.first?.line == 2)
        #expect(findings.first?.path == workspace.path(of: "2_index.sql"))
    }

    @Test func givenAStatementThatFails_whenLinted_thenItIsFlaggedAndLaterMigrationsAreStillRead() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_typo.sql", "-- migrate:up\nCREATE TABLEX oops (id INTEGER);\n\n-- migrate:down\nSELECT 1;\n")
        try workspace.write(
            "3_index.sql",
            "-- migrate:up transaction:false\nCREATE INDEX a_name ON authors(name);\n\n-- migrate:down\nSELECT 1;\n")
        let result = try docket(["lint", "--json", "--migrations", workspace.migrations])
        #expect(result.status == 3)
        let findings = try JSONDecoder().decode(LintDocument.self, from: Data(result.stdout.utf8)).findings
        #expect(findings.map(\.check) == [.fails, .indexWithoutIfNotExists])
        #expect(findings[0].line == 2 && findings[0].message.contains("syntax error"))
    }
}

/// `docket schema dump` and `docket schema check` through the built binary (issue 18).
@Suite struct SchemaFileTests {
    @Test func givenMigrations_whenDumpedFromThemAndFromAMigratedDatabase_thenBothAreTheSameStableText() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let fromMigrations = try docket(["schema", "dump", "--migrations", workspace.migrations])
        #expect(fromMigrations.status == 0)
        #expect(fromMigrations.stdout.contains("-- Applied version: 20261123120500\n"))
        // Tables by name, each followed by its indexes; the history table left out.
        let text = fromMigrations.stdout
        let authors = try #require(text.range(of: "CREATE TABLE authors"))
        let books = try #require(text.range(of: "CREATE TABLE \"books\""))
        let index = try #require(text.range(of: "CREATE INDEX books_author_id"))
        let customers = try #require(text.range(of: "CREATE TABLE customers"))
        #expect(authors.lowerBound < books.lowerBound && books.lowerBound < index.lowerBound)
        #expect(index.lowerBound < customers.lowerBound)
        #expect(!text.contains("docket_migrations"))

        #expect(
            try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations]).status == 0)
        let fromDatabase = try docket(
            ["schema", "dump", "--database", workspace.database, "--migrations", workspace.migrations])
        #expect(fromDatabase.stdout == text)
    }

    @Test func givenACommittedSchemaFile_whenAMigrationIsAdded_thenCheckFailsUntilItIsRegenerated() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let file = workspace.root.appendingPathComponent("schema.sql").path
        let missing = try docket(["schema", "check", "--migrations", workspace.migrations])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("\(file) does not exist"))

        #expect(
            try docket(["schema", "dump", "--migrations", workspace.migrations, "--output", file]).status == 0)
        let ok = try docket(["schema", "check", "--migrations", workspace.migrations])
        #expect(ok.status == 0, "\(ok.stderr)")

        try workspace.write(
            "20261201000000_add_tags.sql",
            "-- migrate:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\n-- migrate:down\nDROP TABLE tags;\n"
        )
        let stale = try docket(["schema", "check", "--migrations", workspace.migrations])
        #expect(stale.status == 3)
        #expect(stale.stderr.contains("\(file):3: the schema file differs from what the migrations produce"))
        #expect(stale.stderr.contains("Applied version: 20261201000000"))

        #expect(
            try docket(["schema", "dump", "--migrations", workspace.migrations, "--output", file]).status == 0)
        #expect(try docket(["schema", "check", "--migrations", workspace.migrations]).status == 0)
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains("CREATE TABLE tags"))
    }

    @Test func givenADatabaseThatDoesNotExist_whenDumped_thenExit66AndNothingIsCreated() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let result = try docket([
            "schema", "dump", "--database", workspace.database, "--migrations", workspace.migrations,
        ])
        #expect(result.status == 66)
        #expect(result.stderr.contains("does not exist"))
        #expect(!FileManager.default.fileExists(atPath: workspace.database))
    }
}

/// `docket repair` and `docket baseline` through the built binary (issue 18).
@Suite struct RepairAndBaselineTests {
    static let authors = PlanAndLintTests.authors
    static let books = PlanAndLintTests.books

    @Test func givenAnEditedAppliedMigration_whenRepaired_thenTheNewChecksumIsRecordedAuditedAndNoSQLRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.write("1_authors.sql", Self.authors.replacingOccurrences(of: "bio TEXT", with: "bio BLOB"))
        #expect(try docket(["migrate"] + arguments).status == 65)

        let repaired = try docket(["repair", "--json"] + arguments)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let reported = try JSONDecoder().decode([MigrationRepair].self, from: Data(repaired.stdout.utf8))
        #expect(reported.map(\.version) == [1])
        #expect(reported.first.map { $0.oldChecksum != $0.newChecksum } == true)
        #expect(try docket(["status"] + arguments).stdout.contains("applied  1  authors"))
        #expect(try docket(["migrate"] + arguments).status == 0)

        let db = try workspace.open()
        defer { db.close() }
        // The edit itself was not applied: the column is still TEXT.
        #expect(
            try db.blocking.read { try $0.scalar("SELECT type FROM pragma_table_info('authors') WHERE name = 'bio'") }
                == .text("TEXT"))
        let audit = try Migrator(folder: workspace.migrations).repairs(db)
        #expect(audit.count == 1)
        #expect(audit.first?.version == 1)
        #expect(audit.first?.oldChecksum != audit.first?.newChecksum)
        let history = try Migrator(folder: workspace.migrations).readHistory(db)
        #expect(history.first?.checksum == audit.first?.newChecksum)

        let again = try docket(["repair", "--json"] + arguments)
        #expect(again.status == 0)
        #expect(try JSONDecoder().decode([MigrationRepair].self, from: Data(again.stdout.utf8)).isEmpty)
        let unknown = try docket(["repair", "--version", "99"] + arguments)
        #expect(unknown.status == 65)
        #expect(unknown.stderr.contains("no applied migration has version 99"))
    }

    @Test func givenAnExistingDatabase_whenBaselined_thenEarlierMigrationsAreRecordedAndLaterOnesApply() throws {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        try workspace.write(
            "3_tags.sql",
            "-- migrate:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE tags;\n")
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        do {
            // A database made before Docket, by hand, with a row in it.
            let db = try workspace.open()
            defer { db.close() }
            try db.blocking.write {
                try $0.execute(
                    """
                    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT);
                    CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors(id), title TEXT NOT NULL);
                    INSERT INTO authors (name) VALUES ('Le Guin');
                    """)
            }
        }
        struct BaselineDocument: Decodable {
            struct Recorded: Decodable { let version: Int64 }
            let baseline: Int64
            let recorded: [Recorded]
        }
        let baseline = try docket(["baseline", "--version", "2", "--json"] + arguments)
        #expect(baseline.status == 0, "\(baseline.stderr)")
        let document = try JSONDecoder().decode(BaselineDocument.self, from: Data(baseline.stdout.utf8))
        #expect(document.baseline == 2 && document.recorded.map(\.version) == [1, 2])
        let status = try docket(["status"] + arguments).stdout
        #expect(status.contains("applied  1  authors") && status.contains("applied  2  books"))
        #expect(status.contains("pending  3  tags"))
        #expect(try docket(["migrate"] + arguments).status == 0)
        let db = try workspace.open()
        defer { db.close() }
        #expect(try db.blocking.read { try $0.scalar("SELECT count(*) FROM authors") } == .integer(1))

        let twice = try docket(["baseline", "--version", "2"] + arguments)
        #expect(twice.status == 65)
        #expect(twice.stderr.contains("already has a migration history"))
    }

    @Test func givenADatabaseThatDoesNotMatch_whenBaselined_thenItIsRefusedNamingWhatIsMissing() throws {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        do {
            let db = try workspace.open()
            defer { db.close() }
            try db.blocking.write {
                try $0.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            }
        }
        let result = try docket(["baseline", "--version", "2"] + arguments)
        #expect(result.status == 65)
        #expect(result.stderr.contains("is not at version 2: authors has no column bio; books does not exist"))
        let db = try workspace.open()
        defer { db.close() }
        #expect(try Migrator(folder: workspace.migrations).readHistory(db).isEmpty)
    }
}

/// Repeatable migrations (`R__<name>.sql`) through the built binary (issue 18).
@Suite struct RepeatableMigrationTests {
    static let view = """
        -- What each author wrote, for the reports.
        -- migrate:repeatable
        DROP VIEW IF EXISTS author_titles;
        CREATE VIEW author_titles AS SELECT a.name, b.title FROM authors AS a JOIN books AS b ON b.author_id = a.id;
        """

    struct StatusDocument: Decodable {
        let migrations: [MigrationStatus]
    }

    @Test func givenARepeatableMigration_whenMigrating_thenItRunsAfterTheVersionedOnesAndAgainOnlyWhenItChanges()
        throws
    {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        try workspace.write("R__author_titles.sql", Self.view)
        try workspace.write(
            "R__a_seed.sql", "-- migrate:repeatable\nINSERT OR IGNORE INTO authors (id, name) VALUES (1, 'Le Guin');\n")
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]

        let first = try docket(["migrate"] + arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let lines = first.stdout.split(separator: "\n").map(String.init)
        let order = lines.compactMap { line in line.hasPrefix("Applied ") ? line.split(separator: " ")[1] : nil }
            .filter { $0.contains("_") }
        // Versioned first, then the repeatable ones in name order.
        #expect(order == ["1_authors", "2_books", "R__a_seed", "R__author_titles"])

        let again = try docket(["migrate"] + arguments)
        #expect(again.stdout.contains("already up to date"))
        #expect(!again.stdout.contains("R__"))
        let status = try docket(["status"] + arguments).stdout
        #expect(status.contains("applied  R__author_titles"))

        try workspace.write(
            "R__author_titles.sql", Self.view.replacingOccurrences(of: "b.title FROM", with: "b.title, b.id FROM"))
        let json = try docket(["status", "--json"] + arguments)
        let entries = try JSONDecoder().decode(StatusDocument.self, from: Data(json.stdout.utf8)).migrations
        let titles = try #require(entries.first { $0.name == "author_titles" })
        #expect(titles.isRepeatable && titles.state == .changed)
        #expect(entries.first { $0.name == "a_seed" }?.state == .applied)
        let plan = try docket(["plan", "--exit-code"] + arguments)
        #expect(plan.status == 2)
        #expect(plan.stdout.contains("-- R__author_titles (repeatable)"))

        let rerun = try docket(["migrate"] + arguments)
        #expect(rerun.stdout.contains("Applied R__author_titles"))
        #expect(!rerun.stdout.contains("R__a_seed"))
        let db = try workspace.open()
        defer { db.close() }
        let columns = try db.blocking.read { try $0.fetchAll("SELECT name FROM pragma_table_info('author_titles')") }
        #expect(columns.map(\.values[0]) == [.text("name"), .text("title"), .text("id")])
    }

    @Test func givenMigratingToAnOlderVersion_whenRepeatablesExist_thenTheyWaitForTheLatest() throws {
        let workspace = try Workspace.authorsAndBooks()
        defer { workspace.remove() }
        try workspace.write("R__author_titles.sql", Self.view)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        let partial = try docket(["migrate", "--to", "1"] + arguments)
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(!partial.stdout.contains("R__"))
        #expect(try docket(["status"] + arguments).stdout.contains("pending  R__author_titles"))
    }

    @Test func givenARepeatableFileWithoutItsMarker_whenValidated_thenTheFileAndLineAreNamed() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", PlanAndLintTests.authors)
        try workspace.write("R__broken.sql", "CREATE VIEW v AS SELECT 1;\n")
        let result = try docket(["validate", "--migrations", workspace.migrations])
        #expect(result.status == 65)
        #expect(result.stderr.contains("\(workspace.path(of: "R__broken.sql")):1: a repeatable migration needs"))
    }
}

/// `docket squash` through the built binary (issue 18): old databases keep working, new ones take
/// the squashed migration.
@Suite struct SquashTests {
    static let latest: Int64 = 20_261_123_120_500

    /// The schema dump's statements, without the header's comments.
    static func statements(_ dump: String) -> [Substring] { dump.split(separator: "\n").filter { !$0.hasPrefix("--") } }

    @Test func givenTheBookstoreMigrations_whenSquashed_thenNewAndOldDatabasesBothEndAtTheSameSchema() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let before = try docket(["schema", "dump", "--migrations", workspace.migrations]).stdout
        // A database that applied the old files, before the squash.
        let old = workspace.root.appendingPathComponent("old.sqlite").path
        #expect(try docket(["migrate", "--database", old, "--migrations", workspace.migrations]).status == 0)

        let squash = try docket(["squash", "--to", "\(Self.latest)", "--migrations", workspace.migrations])
        #expect(squash.status == 0, "\(squash.stderr)")
        #expect(squash.stdout.contains("Squashed 6 migrations into"))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: workspace.migrations) == ["\(Self.latest)_squashed.sql"]
        )

        // A new database takes the squashed migration, and ends at the same schema.
        let fresh = try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(fresh.stdout.contains("Applied \(Self.latest)_squashed"))
        let after = try docket([
            "schema", "dump", "--database", workspace.database, "--migrations", workspace.migrations,
        ])
        #expect(Self.statements(after.stdout) == Self.statements(before))

        // The old database counts it as applied: nothing to do, nothing refused.
        let arguments = ["--database", old, "--migrations", workspace.migrations]
        let status = try docket(["status"] + arguments)
        #expect(status.status == 0)
        #expect(status.stdout.contains("(squashed into \(Self.latest))"))
        #expect(!status.stdout.contains("missing") && !status.stdout.contains("modified"))
        #expect(try docket(["migrate"] + arguments).stdout.contains("already up to date"))
        #expect(try docket(["validate"] + arguments).status == 0)
        #expect(try docket(["plan", "--exit-code"] + arguments).status == 0)
    }

    @Test func givenASquashOfTheFirstMigrations_whenMigrating_thenTheLaterOnesStillApplyAfterIt() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let before = try docket(["schema", "dump", "--migrations", workspace.migrations]).stdout
        struct SquashDocument: Decodable {
            let file: String
            let removed: [String]
        }
        let squashed = try docket(["squash", "--to", "20261123120200", "--migrations", workspace.migrations, "--json"])
        #expect(squashed.status == 0, "\(squashed.stderr)")
        let document = try JSONDecoder().decode(SquashDocument.self, from: Data(squashed.stdout.utf8))
        #expect(document.file == workspace.path(of: "20261123120200_squashed.sql") && document.removed.count == 3)
        let files = try FileManager.default.contentsOfDirectory(atPath: workspace.migrations).sorted()
        #expect(files.first == "20261123120200_squashed.sql" && files.count == 4)
        let run = try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations])
        #expect(run.status == 0, "\(run.stderr)")
        let after = try docket([
            "schema", "dump", "--database", workspace.database, "--migrations", workspace.migrations,
        ])
        #expect(Self.statements(after.stdout) == Self.statements(before))
    }

    @Test func givenADatabaseHalfwayThroughTheSquashedMigrations_whenMigrating_thenItIsRefusedSayingWhatToDo() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate", "--to", "20261123120100"] + arguments).status == 0)
        #expect(try docket(["squash", "--to", "20261123120300", "--migrations", workspace.migrations]).status == 0)
        let result = try docket(["migrate"] + arguments)
        #expect(result.status == 65)
        #expect(result.stderr.contains("this database applied 2 of the 4 migrations 20261123120300_squashed replaces"))
    }

    @Test func givenMigrationsThatSeedRows_whenSquashed_thenItIsRefusedAndNoFileChanges() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", PlanAndLintTests.authors)
        try workspace.write(
            "2_seed.sql",
            "-- migrate:up\nINSERT INTO authors (name) VALUES ('Le Guin');\n\n-- migrate:down\nDELETE FROM authors;\n")
        let result = try docket(["squash", "--to", "2", "--migrations", workspace.migrations])
        #expect(result.status == 65)
        #expect(result.stderr.contains("leave rows in a new database (1 in authors)"))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: workspace.migrations).sorted() == [
                "1_authors.sql", "2_seed.sql",
            ])
    }
}

/// A long migration's elapsed time on a terminal, and only its final line into a pipe (issue 18).
@Suite struct ProgressTests {
    /// About 2.5–3 s of work in one statement.
    static let slow = """
        -- migrate:up
        CREATE TABLE counted AS
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 28000000) SELECT count(*) AS n FROM c;

        -- migrate:down
        DROP TABLE counted;
        """

    @Test func givenAMigrationLongerThanTwoSeconds_whenRunOnATerminalAndIntoAPipe_thenOnlyTheTerminalSeesItsProgress()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_slow.sql", Self.slow)
        let binary = try #require(docketExecutable).path
        // On a terminal: `script` gives the tool a pseudo-terminal and records what it wrote.
        let terminal = Process()
        terminal.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        terminal.arguments = [
            "-qec",
            "\(binary) migrate --database \(workspace.database) --migrations \(workspace.migrations)",
            "/dev/null",
        ]
        let pipe = Pipe()
        terminal.standardOutput = pipe
        terminal.standardInput = FileHandle.nullDevice
        try terminal.run()
        let seen = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        terminal.waitUntilExit()
        #expect(terminal.terminationStatus == 0, "\(seen)")
        #expect(seen.contains("⧗ applying 1_slow: 2 s"))
        #expect(seen.contains("Applied 1_slow in "))

        // Into a pipe: the same run prints its lines and nothing else.
        #expect(
            try docket(["rollback", "--database", workspace.database, "--migrations", workspace.migrations]).status == 0
        )
        let piped = try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations])
        #expect(piped.status == 0)
        #expect(piped.stdout.contains("Applied 1_slow in "))
        #expect(!piped.stdout.contains("⧗") && !piped.stdout.contains("\r"))
    }
}

extension SchemaFileTests {
    @Test func givenViewsAndTriggers_whenDumped_thenTablesThenViewsThenTriggersEachByName() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write(
            "1_all.sql",
            """
            -- migrate:up
            CREATE TABLE zebras (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TRIGGER b_trigger AFTER INSERT ON zebras BEGIN SELECT 1; END;
            CREATE VIEW z_view AS SELECT name FROM zebras;
            CREATE TABLE apes (id INTEGER PRIMARY KEY);
            CREATE VIEW a_view AS SELECT id FROM apes;
            CREATE TRIGGER a_trigger AFTER INSERT ON apes BEGIN SELECT 1; END;
            CREATE INDEX zebras_name ON zebras(name);

            -- migrate:down
            DROP TABLE zebras; DROP TABLE apes;
            """)
        let dump = try docket(["schema", "dump", "--migrations", workspace.migrations]).stdout
        let order = [
            "TABLE apes", "TABLE zebras", "INDEX zebras_name", "VIEW a_view", "VIEW z_view", "TRIGGER a_trigger",
            "TRIGGER b_trigger",
        ]
        let positions = try order.map { try #require(dump.range(of: "CREATE " + $0)).lowerBound }
        #expect(positions == positions.sorted())
    }
}

extension Workspace {
    /// A workspace whose migrations are `1_authors.sql` and `2_books.sql`.
    static func authorsAndBooks() throws -> Workspace {
        let workspace = try Workspace()
        try workspace.write("1_authors.sql", PlanAndLintTests.authors)
        try workspace.write("2_books.sql", PlanAndLintTests.books)
        return workspace
    }
}
