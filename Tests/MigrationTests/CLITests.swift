import Docket
import DocketMigrations
import Foundation
import Testing

/// The built `docket` binary, run as a separate process against temporary folders, as a user would.
@Suite struct CLITests {
    static let authors = MigratorTests.authors
    static let books = MigratorTests.books

    @Test func givenTheBookstoreMigrations_whenMigratingThroughTheEnvironmentVariable_thenStatusShowsThemApplied()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let environment = ["DOCKET_DATABASE": workspace.database]

        let migrate = try docket(["migrate", "--migrations", workspace.migrations], environment: environment)

        #expect(migrate.status == 0)
        #expect(migrate.stdout.contains("Applied 20261123120000_create_authors in "))
        #expect(migrate.stdout.contains("Applied 6 migrations in "))
        #expect(migrate.stderr.isEmpty)
        let again = try docket(["migrate", "--migrations", workspace.migrations], environment: environment)
        #expect(again.status == 0)
        #expect(again.stdout.contains("already up to date (latest migration: 20261123120500_rebuild_books)"))

        let status = try docket(["status", "--json", "--migrations", workspace.migrations], environment: environment)
        #expect(status.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let entries = document?["migrations"] as? [[String: Any]] ?? []
        #expect(entries.count == 6)
        #expect(entries.allSatisfy { $0["state"] as? String == "applied" })
        #expect(entries.first?["version"] as? Int == 20_261_123_120_000)
    }

    @Test func givenAnSQLErrorInTheSecondMigration_whenMigrating_thenStderrNamesFileLineAndStatementAndExitIs1()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_books.sql",
            "-- migrate:up\nCREATE TABLE books (id INTEGER);\nINSERT INTO nope VALUES (1);\n-- migrate:down\nDROP TABLE books;\n"
        )

        let result = try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations])

        #expect(result.status == 1)
        #expect(result.stdout.contains("Applied 1_authors in "))
        #expect(
            result.stderr.hasPrefix(
                "error: \(workspace.path(of: "2_books.sql")):3: statement 2 of 2 of the up section failed: "
                    + "no such table: nope (SQLITE_ERROR). The migration was rolled back"))
        let db = try workspace.open()
        defer { db.close() }
        #expect(try appliedVersions(db) == [1])
        #expect(try tableNames(db) == ["authors", "docket_migrations"])
    }

    @Test func givenADatabaseInAFolderThatDoesNotExist_whenMigrating_thenExit66NamesTheFolderAndCreatesNothing()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let folder = workspace.root.appendingPathComponent("no-such-folder").path

        for command in ["migrate", "status"] {
            let result = try docket([
                command, "--database", folder + "/db.sqlite", "--migrations", workspace.migrations,
            ])
            #expect(result.status == 66, "\(command)")
            #expect(result.stderr.contains("the folder \(folder) does not exist"), "\(command): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func givenAFileThatIsNotADatabase_whenMigrating_thenExit66SaysSoAndTheFileIsUntouched() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let contents = String(repeating: "These are notes, not a database.\n", count: 100)
        try contents.write(toFile: workspace.database, atomically: true, encoding: .utf8)

        let result = try docket(["migrate", "--database", workspace.database, "--migrations", workspace.migrations])

        #expect(result.status == 66)
        #expect(result.stderr.contains("\(workspace.database) is not a SQLite database"))
        #expect(try String(contentsOfFile: workspace.database, encoding: .utf8) == contents)
    }

    @Test func givenPendingMigrations_whenDryRunning_thenTheSQLIsPrintedAndNoDatabaseIsCreated() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)

        let result = try docket(
            ["migrate", "--dry-run", "--database", workspace.database, "--migrations", workspace.migrations])

        #expect(result.status == 0)
        #expect(result.stdout.contains("BEGIN IMMEDIATE;\nCREATE TABLE IF NOT EXISTS docket_migrations"))
        #expect(result.stdout.contains("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"))
        #expect(result.stdout.contains("COMMIT;\nPRAGMA foreign_keys = ON;"))
        #expect(!FileManager.default.fileExists(atPath: workspace.database))
    }

    @Test func givenAMalformedFileName_whenMigrating_thenExit65AndTheDatabaseIsUnchanged() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.write("2 books.sql", Self.books)
        let before = try dump(path: workspace.database)

        let result = try docket(["migrate"] + arguments)

        #expect(result.status == 65)
        #expect(result.stderr.hasPrefix("error: \(workspace.path(of: "2 books.sql")): the file name is not"))
        #expect(try dump(path: workspace.database) == before)
    }

    @Test func givenAnIrreversibleLatestMigration_whenRollingBack_thenExit65AndNothingIsRolledBack() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("2_purge.sql", "-- migrate:up\nDELETE FROM authors;\n-- migrate:down irreversible\n")
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        let before = try dump(path: workspace.database)

        let result = try docket(["rollback"] + arguments)

        #expect(result.status == 65)
        #expect(result.stderr.contains("\(workspace.path(of: "2_purge.sql")):3: 2_purge is irreversible"))
        #expect(try dump(path: workspace.database) == before)
    }

    @Test func givenAnEditedAppliedFile_whenMigrating_thenExit65AndStatusShowsItModified() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.write("1_authors.sql", Self.authors.replacingOccurrences(of: "authors (", with: "writers ("))
        try workspace.write("2_books.sql", Self.books)
        let before = try dump(path: workspace.database)

        let result = try docket(["migrate"] + arguments)
        let status = try docket(["status"] + arguments)

        #expect(result.status == 65)
        #expect(result.stderr.contains("\(workspace.path(of: "1_authors.sql")):1: the up section was edited"))
        #expect(try dump(path: workspace.database) == before)
        #expect(status.status == 0)
        #expect(status.stdout.contains("modified 1  authors"))
        #expect(status.stdout.contains("pending  2  books"))
    }

    @Test func givenTwoProcessesAtOnce_whenBothMigrate_thenBothSucceedAndEachMigrationIsAppliedOnce() throws {
        // Several rounds: both processes create the file and switch it to WAL at once, a race that
        // once lost about one round in ten to "database is locked".
        for _ in 0..<8 {
            let workspace = try Workspace()
            defer { workspace.remove() }
            try workspace.copyBookstoreMigrations()
            let arguments = ["migrate", "--database", workspace.database, "--migrations", workspace.migrations]

            let processes = try (0..<2).map { _ in try DocketProcess(arguments) }
            let results = processes.map { $0.wait() }

            #expect(results.map(\.status) == [0, 0], "\(results.map(\.stderr))")
            let outputs = results.map(\.stdout).joined()
            // Six migrations applied in all, whichever process applied each.
            #expect(outputs.components(separatedBy: "Applied 2026").count - 1 == 6)
            let db = try workspace.open()
            defer { db.close() }
            #expect(try appliedVersions(db).count == 6)
        }
    }

    @Test func givenNew_whenCreatingAMigration_thenItIsVersionedWithUTCTimeAndValidateAsksForItsSQL() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let folder = workspace.root.appendingPathComponent("Fresh").path

        let created = try docket(["new", "add_books_isbn", "--migrations", folder])
        let second = try docket(["new", "add_books_isbn", "--migrations", folder])
        let validate = try docket(["validate", "--migrations", folder])
        let badName = try docket(["new", "two words", "--migrations", folder])

        #expect(created.status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files.count == 2)
        let versions = files.compactMap { Int64($0.prefix { $0.isNumber }) }
        #expect(versions.count == 2 && versions[0] < versions[1])
        #expect(files[0].count == "20261123124500_add_books_isbn.sql".count)
        #expect(created.stdout == "Created \(folder)/\(files[0])\n")
        #expect(second.status == 0)
        #expect(validate.status == 65)
        #expect(validate.stderr.contains("the '-- migrate:up' section is empty"))
        #expect(badName.status == 64)
    }

    @Test func givenConflictingOrMissingOptions_whenRunning_thenItIsAUsageErrorWithExit64() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let both = try docket(["rollback", "--steps", "1", "--to", "2", "--database", workspace.database])
        let none = try docket(["migrate", "--migrations", workspace.migrations], environment: ["DOCKET_DATABASE": ""])
        #expect(both.status == 64)
        #expect(both.stderr.contains("Give either --steps or --to, not both."))
        #expect(none.status == 64)
        #expect(none.stderr.contains("DOCKET_DATABASE"))
    }
}

// MARK: Running the binary

/// The `docket` executable that `swift test` built next to the test bundle.
let docketExecutable: URL? = {
    var candidates: [URL] = []
    let argument0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(argument0.deletingLastPathComponent())
    candidates.append(Bundle.main.bundleURL)
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    candidates.append(packageRoot.appendingPathComponent(".build/debug"))
    return candidates.map { $0.appendingPathComponent("docket") }.first {
        FileManager.default.isExecutableFile(atPath: $0.path)
    }
}()

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A running `docket` process whose output is collected.
final class DocketProcess {
    let process = Process()
    private let out = Pipe()
    private let err = Pipe()

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        guard let executable = docketExecutable else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the docket binary was not built"])
        }
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["DOCKET_DATABASE"] = nil
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    func wait() -> ProcessResult {
        // Read before waiting, so a full pipe cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Runs `docket` with `arguments` and waits for it.
func docket(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    try DocketProcess(arguments, environment: environment).wait()
}

@Suite struct CLILockTests {
    @Test func givenAnotherProcessHoldingTheWriteLock_whenMigratingWithNoBusyTimeout_thenExit75AndNothingChanges()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        let blocker = try workspace.open()
        defer { blocker.close() }
        let before = try dump(blocker)
        let result = try blocker.blocking.writeWithoutTransaction { connection -> ProcessResult in
            try connection.execute("BEGIN IMMEDIATE")
            defer { try? connection.execute("ROLLBACK") }
            return try docket([
                "migrate", "--busy-timeout", "0", "--database", workspace.database, "--migrations",
                workspace.migrations,
            ])
        }

        #expect(result.status == 75)
        #expect(result.stderr.contains("database is locked (SQLITE_BUSY)"))
        #expect(try dump(blocker) == before)
    }

    @Test func givenAFractionalBusyTimeout_whenTheLockIsHeld_thenItWaitsThatLongThenExits75() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        let blocker = try workspace.open()
        defer { blocker.close() }
        let (result, waited) = try blocker.blocking.writeWithoutTransaction { connection -> (ProcessResult, Duration) in
            try connection.execute("BEGIN IMMEDIATE")
            defer { try? connection.execute("ROLLBACK") }
            let started = ContinuousClock.now
            let result = try docket([
                "migrate", "--busy-timeout", "0.4", "--database", workspace.database, "--migrations",
                workspace.migrations,
            ])
            return (result, ContinuousClock.now - started)
        }
        #expect(result.status == 75, "\(result.stderr)")
        #expect(waited >= .milliseconds(400))
        let invalid = try docket(["migrate", "--busy-timeout=-0.5", "--database", workspace.database])
        #expect(invalid.status == 64)
        #expect(invalid.stderr.contains("--busy-timeout must be between 0 and 86400 seconds"))
    }

    @Test func givenOutputIntoAPipe_whenAMigrationIsStillRunning_thenTheEarlierLinesAreAlreadyThere() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        try workspace.write(
            "2_slow.sql",
            """
            -- migrate:up
            CREATE TABLE slow (n INTEGER);
            WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000000)
            INSERT INTO slow SELECT n FROM c;
            -- migrate:down
            DROP TABLE slow;
            """)
        let process = Process()
        guard let executable = docketExecutable else {
            Issue.record("the docket binary was not built")
            return
        }
        process.executableURL = executable
        process.arguments = ["migrate", "--database", workspace.database, "--migrations", workspace.migrations]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line arrives while the slow migration still runs, not at exit.
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first.append(chunk)
        }
        let stillRunning = process.isRunning
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("Applied 1_authors"))
        #expect(stillRunning, "the first line only arrived when the process exited")
        #expect(process.terminationStatus == 0)
    }

    @Test func givenAMissingFile_whenShowingStatus_thenItIsListedAsMissing() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        try workspace.write("2_books.sql", MigratorTests.books)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.delete("2_books.sql")

        let status = try docket(["status"] + arguments)
        let migrate = try docket(["migrate"] + arguments)

        #expect(status.stdout.contains("missing  2  books"))
        #expect(status.stdout.contains("1 applied, 1 missing."))
        #expect(migrate.status == 0)
        #expect(migrate.stderr.contains("warning: 2_books is applied but its file is gone"))

        // A rollback would run SQL no file holds: refused, unless asked for explicitly.
        let refused = try docket(["rollback"] + arguments)
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("--use-stored-down"))
        let rolledBack = try docket(["rollback", "--use-stored-down"] + arguments)
        #expect(rolledBack.status == 0, "\(rolledBack.stderr)")
        #expect(rolledBack.stdout.contains("Rolled back 2_books"))
    }

    @Test func givenAnExistingDatabaseThatCannotBeWritten_whenMigrating_thenExit66SaysReadOnly() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        #expect(try docket(["migrate"] + arguments).status == 0)
        try workspace.write("2_books.sql", MigratorTests.books)
        // Tests run as root, whom file permissions do not stop: an immutable file does.
        func chattr(_ flag: String) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["chattr", flag, workspace.database]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try chattr("+i") == 0, "chattr +i failed: the file system does not support immutable files")
        defer { _ = try? chattr("-i") }
        let migrate = try docket(["migrate"] + arguments)
        #expect(migrate.status == 66, "\(migrate.stderr)")
        #expect(migrate.stderr.contains("is read-only"), "\(migrate.stderr)")
        #expect(!migrate.stdout.contains("Applied"))
    }

    @Test func givenTwoFilesWithOneVersion_whenShowingStatus_thenBothAreListedAndMarked() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        try workspace.write("2_books.sql", MigratorTests.books)
        try workspace.write(
            "2_more_books.sql", "-- migrate:up\nCREATE TABLE more (id INTEGER);\n-- migrate:down\nDROP TABLE more;\n")
        let arguments = ["--database", workspace.database, "--migrations", workspace.migrations]
        let status = try docket(["status"] + arguments)
        #expect(status.status == 65)
        #expect(status.stdout.contains("pending  1  authors"), "\(status.stdout)")
        let marked = status.stdout.split(separator: "\n").filter {
            $0.contains("(problem: version 2 is used by 2 migrations")
        }
        #expect(marked.count == 2, "\(status.stdout)")
        #expect(status.stderr.contains("give each a version of its own"))
        let json = try docket(["status", "--json"] + arguments)
        #expect(json.status == 65)
        struct Document: Decodable {
            struct Entry: Decodable {
                let version: Int64
                let problem: String?
            }
            let migrations: [Entry]
        }
        let document = try JSONDecoder().decode(Document.self, from: Data(json.stdout.utf8))
        #expect(document.migrations.map(\.version) == [1, 2, 2])
        #expect(document.migrations.filter { $0.problem != nil }.count == 2)
    }

    @Test func givenNothingApplied_whenRollingBack_thenNothingToRollBackAndExit0() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        let rollback = try docket(["rollback", "--database", workspace.database, "--migrations", workspace.migrations])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdout.contains("Nothing to roll back"))
    }

    @Test func givenAStatementSQLiteRefuses_whenValidating_thenItFailsNamingTheFileAndLine() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", MigratorTests.authors)
        try workspace.write(
            "2_typo.sql", "-- migrate:up\nCREATE TABLEX typo (id INTEGER);\n-- migrate:down\nSELECT 1;\n")
        let validate = try docket(["validate", "--migrations", workspace.migrations])
        #expect(validate.status == 65)
        #expect(validate.stderr.contains("2_typo.sql:2"), "\(validate.stderr)")
        #expect(validate.stderr.contains("scratch database"))
        #expect(!FileManager.default.fileExists(atPath: workspace.database))
    }

    @Test func givenADownSectionThatDoesNotUndo_whenValidating_thenTheSecondUpFails() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write(
            "1_kept.sql", "-- migrate:up\nCREATE TABLE kept (id INTEGER);\n-- migrate:down\nSELECT 1;\n")
        let validate = try docket(["validate", "--migrations", workspace.migrations])
        #expect(validate.status == 65)
        #expect(validate.stderr.contains("table kept already exists"), "\(validate.stderr)")
    }

    @Test func givenGoodMigrations_whenValidating_thenTheyRunOnAScratchDatabase() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let validate = try docket(["validate", "--migrations", workspace.migrations])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stdout.contains("run up, down and up again on a scratch database: no problems found."))
    }

    @Test(arguments: [
        ("0_zero.sql", "version 0 is not a migration version"),
        ("12345678901234567890123_big.sql", "version 12345678901234567890123 is too large"),
    ])
    func givenAnInvalidVersion_whenValidating_thenTheMessageSaysWhatIsWrongWithIt(file: String, message: String) throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write(file, "-- migrate:up\nCREATE TABLE t (id INTEGER);\n-- migrate:down\nDROP TABLE t;\n")
        let validate = try docket(["validate", "--migrations", workspace.migrations])
        #expect(validate.status == 65)
        #expect(validate.stderr.contains(message), "\(validate.stderr)")
    }
}
