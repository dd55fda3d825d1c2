import Docket
import DocketMigrations
import Foundation
import Testing

/// The runner through its library API. Every refusal asserts the message and that the database
/// is unchanged (`dump` before and after).
@Suite struct MigratorTests {
    static let authors =
        "-- migrate:up\nCREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
        + "-- migrate:down\nDROP TABLE authors;\n"
    static let books =
        "-- migrate:up\nCREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES authors(id));\n"
        + "-- migrate:down\nDROP TABLE books;\n"

    // MARK: The bookstore schema

    @Test func givenTheBookstoreMigrations_whenMigrating_thenTheSchemaIsTheDocumentedOne() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let db = try workspace.open()
        defer { db.close() }
        let runs = try workspace.migrator().migrate(db)
        #expect(runs.count == 6)
        #expect(try tableNames(db) == ["authors", "books", "customers", "docket_migrations", "order_lines", "orders"])
        let columns = try db.blocking.read { connection in
            try connection.fetchAll("SELECT name FROM pragma_table_info('books') ORDER BY cid").compactMap {
                $0.values[0].textValue
            }
        }
        #expect(columns == ["id", "author_id", "title", "isbn", "price", "stock", "version"])
        let indexes = try db.blocking.read { try $0.fetchAll("SELECT name FROM pragma_index_list('books')") }
        #expect(indexes.contains { $0.values[0] == .text("books_author_id") })
        try db.blocking.write { connection in
            try connection.execute("INSERT INTO authors (id, name) VALUES (1, 'Le Guin')")
            try connection.execute(
                "INSERT INTO books (author_id, title, isbn, price, stock) VALUES (1, 'Earthsea', '978-1', 9.5, 3)")
        }
        // The CHECK added by the rebuild, the UNIQUE isbn and the foreign key all hold.
        #expect(throws: DatabaseError.self) {
            try db.blocking.write { try $0.execute("UPDATE books SET stock = -1") }
        }
        #expect(throws: DatabaseError.self) {
            try db.blocking.write {
                try $0.execute(
                    "INSERT INTO books (author_id, title, isbn, price, stock) VALUES (1, 'Copy', '978-1', 1, 1)")
            }
        }
        #expect(throws: DatabaseError.self) {
            try db.blocking.write {
                try $0.execute(
                    "INSERT INTO books (author_id, title, isbn, price, stock) VALUES (9, 'X', '978-2', 1, 1)")
            }
        }
        #expect(try db.blocking.read { try $0.scalar("SELECT version FROM books") } == .integer(0))
    }

    @Test func givenBooksWithOrderLines_whenTheRebuildRunsAndIsRolledBack_thenChildRowsStayIntact() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let db = try workspace.open()
        defer { db.close() }
        let migrator = try workspace.migrator()
        try migrator.migrate(db, to: 20_261_123_120_400)
        try db.blocking.write { connection in
            try connection.execute(
                """
                INSERT INTO authors (id, name) VALUES (1, 'Le Guin');
                INSERT INTO books (id, author_id, title, isbn, price, stock) VALUES (10, 1, 'Earthsea', '978-1', 9.5, 3);
                INSERT INTO books (id, author_id, title, isbn, price, stock) VALUES (11, 1, 'Lathe', '978-2', 7, 0);
                INSERT INTO customers (id, email, name) VALUES (1, 'a@example.com', 'Ann');
                INSERT INTO orders (id, customer_id, placed_at) VALUES (1, 1, '2026-11-23');
                INSERT INTO order_lines (order_id, book_id, quantity, unit_price) VALUES (1, 10, 2, 9.5), (1, 11, 1, 7);
                """)
        }
        let lines = "SELECT order_id, book_id, quantity FROM order_lines ORDER BY id"
        let before = try db.blocking.read { try $0.fetchAll(lines) }

        let runs = try migrator.migrate(db)

        #expect(runs.map(\.name) == ["rebuild_books"])
        #expect(try db.blocking.read { try $0.fetchAll(lines) } == before)
        #expect(try db.blocking.read { try $0.fetchAll("PRAGMA foreign_key_check") }.isEmpty)
        #expect(try db.blocking.read { try $0.scalar("SELECT sum(version) FROM books") } == .integer(0))
        // Foreign keys are back on for the writer after the migration.
        #expect(try db.blocking.write { try $0.scalar("PRAGMA foreign_keys") } == .integer(1))
        #expect(throws: DatabaseError.self) {
            try db.blocking.write { try $0.execute("DELETE FROM books WHERE id = 10") }
        }

        try migrator.rollback(db)

        #expect(try db.blocking.read { try $0.fetchAll(lines) } == before)
        #expect(try db.blocking.read { try $0.fetchAll("PRAGMA foreign_key_check") }.isEmpty)
        let columns = try db.blocking.read { try $0.fetchAll("SELECT name FROM pragma_table_info('books')") }
        #expect(!columns.contains { $0.values[0] == .text("version") })
    }

    // MARK: Refusals: nothing runs

    @Test func givenAMalformedFileName_whenMigrating_thenItIsNamedAndNothingRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .malformedFileName)
        #expect(error?.description.hasPrefix(workspace.path(of: "books.sql") + ": the file name is not") == true)
        #expect(try dump(db) == before)
    }

    @Test func givenTwoFilesWithOneVersion_whenMigrating_thenBothAreNamedAndNothingRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("01_books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .duplicateVersion)
        #expect(error?.message.contains("version 1 is used by 2 migrations") == true)
        #expect(error?.message.contains(workspace.path(of: "01_books.sql")) == true)
        #expect(error?.message.contains(workspace.path(of: "1_authors.sql")) == true)
        #expect(try dump(db) == before)
    }

    @Test func givenAFileWithoutDownSection_whenMigrating_thenItIsRefusedWithItsPathAndNothingRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("2_books.sql", "-- migrate:up\nCREATE TABLE books (id INTEGER PRIMARY KEY);\n")
        let db = try workspace.open()
        defer { db.close() }
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .missingDownSection)
        #expect(error?.description.hasPrefix(workspace.path(of: "2_books.sql") + ":2: the file has no") == true)
        #expect(try dump(db) == before)
        #expect(try tableNames(db).isEmpty)
    }

    @Test func givenSeveralBadFiles_whenValidating_thenEveryProblemIsListed() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("x_authors.sql", Self.authors)
        try workspace.write("2_books.sql", "-- migrate:up\nCREATE TABLE books (id INTEGER PRIMARY KEY);\n")
        try workspace.write(
            "3_trigger.sql", "-- migrate:up\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n-- migrate:down\n")

        let error = migrationError { try workspace.migrator().validate() }

        #expect(error?.kind == .invalidMigrations)
        #expect(
            error?.problems.map(\.kind) == [
                .missingDownSection, .incompleteStatement, .missingDownSection, .malformedFileName,
            ])
        #expect(error?.description.contains(workspace.path(of: "3_trigger.sql") + ":2: the statement") == true)
    }

    @Test func givenAnIrreversibleMigration_whenRollingBack_thenItIsRefusedAndNothingIsRolledBack() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("2_purge.sql", "-- migrate:up\nDELETE FROM authors;\n\n-- migrate:down irreversible\n")
        try workspace.write("3_books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        try workspace.migrator().migrate(db)
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().rollback(db, steps: 2) }

        #expect(error?.kind == .irreversible)
        #expect(error?.description.hasPrefix(workspace.path(of: "2_purge.sql") + ":4: 2_purge is irreversible") == true)
        // 3_books would have been rollable, but nothing runs when any step cannot.
        #expect(try dump(db) == before)
        #expect(try appliedVersions(db) == [1, 2, 3])
    }

    @Test func givenAnAppliedFileEditedSince_whenMigrating_thenItIsRefusedAndNothingRuns() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let db = try workspace.open()
        defer { db.close() }
        try workspace.migrator().migrate(db)
        try workspace.write(
            "1_authors.sql", Self.authors.replacingOccurrences(of: "NOT NULL", with: "NOT NULL, bio TEXT"))
        try workspace.write("2_books.sql", Self.books)
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .modified)
        #expect(
            error?.description.hasPrefix(workspace.path(of: "1_authors.sql") + ":1: the up section was edited") == true)
        #expect(try dump(db) == before)
        #expect(try workspace.migrator().status(db).map(\.state) == [.modified, .pending])
    }

    @Test func givenAPendingMigrationOlderThanTheLatestApplied_whenMigrating_thenItIsRefusedUnlessAllowed() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("3_books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        try workspace.migrator().migrate(db)
        try workspace.write(
            "2_customers.sql",
            "-- migrate:up\nCREATE TABLE customers (id INTEGER);\n-- migrate:down\nDROP TABLE customers;\n")
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .outOfOrder)
        #expect(error?.message.contains("2_customers is older than 3_books") == true)
        #expect(error?.message.contains("--allow-out-of-order") == true)
        #expect(try dump(db) == before)

        let runs = try workspace.migrator(allowingOutOfOrder: true).migrate(db)
        #expect(runs.map(\.version) == [2])
        #expect(try appliedVersions(db) == [1, 2, 3])
    }

    // MARK: Failures while running: the failing migration is rolled back, earlier ones kept

    @Test func givenAnSQLErrorAtStatementTwoOfThree_whenMigrating_thenItIsRolledBackAndEarlierOnesAreKept() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_books.sql",
            """
            -- migrate:up
            CREATE TABLE books (id INTEGER PRIMARY KEY);

            INSERT INTO book (id) VALUES (1);
            CREATE INDEX books_id ON books(id);

            -- migrate:down
            DROP TABLE books;
            """)
        try workspace.write(
            "3_customers.sql",
            "-- migrate:up\nCREATE TABLE customers (id INTEGER);\n-- migrate:down\nDROP TABLE customers;\n")
        let db = try workspace.open()
        defer { db.close() }
        var progress: [Int64] = []

        let error = migrationError { try workspace.migrator().migrate(db) { progress.append($0.version) } }

        #expect(error?.kind == .statementFailed)
        let text = error?.description ?? ""
        #expect(text.hasPrefix(workspace.path(of: "2_books.sql") + ":4: statement 2 of 3 of the up section failed"))
        #expect(text.contains("no such table: book (SQLITE_ERROR)"))
        #expect(text.contains("The migration was rolled back"))
        #expect(text.contains("The 1 migration applied before it in this run was kept."))
        #expect(error?.databaseError?.message == "no such table: book")
        #expect(progress == [1])
        #expect(try appliedVersions(db) == [1])
        #expect(try tableNames(db) == ["authors", "docket_migrations"])
    }

    @Test func givenARebuildThatDropsReferencedRows_whenMigrating_thenTheForeignKeyCheckRollsItBackAndListsTheRows()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let db = try workspace.open()
        defer { db.close() }
        try workspace.migrator().migrate(db)
        try db.blocking.write { connection in
            try connection.execute(
                """
                INSERT INTO authors (id, name) VALUES (1, 'Le Guin');
                INSERT INTO books (id, author_id, title, isbn, price, stock) VALUES (10, 1, 'Earthsea', '978-1', 0, 3);
                INSERT INTO customers (id, email, name) VALUES (1, 'a@example.com', 'Ann');
                INSERT INTO orders (id, customer_id, placed_at) VALUES (1, 1, '2026-11-23');
                INSERT INTO order_lines (id, order_id, book_id, quantity, unit_price) VALUES (7, 1, 10, 2, 0);
                """)
        }
        // A careless rebuild that keeps only priced books: order line 7 would point at nothing.
        try workspace.write(
            "20261124000000_priced_books_only.sql",
            """
            -- migrate:up
            CREATE TABLE new_books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                title TEXT NOT NULL, isbn TEXT NOT NULL UNIQUE, price REAL NOT NULL CHECK (price > 0),
                stock INTEGER NOT NULL CHECK (stock >= 0), version INTEGER NOT NULL DEFAULT 0);
            INSERT INTO new_books SELECT * FROM books WHERE price > 0;
            DROP TABLE books;
            ALTER TABLE new_books RENAME TO books;
            CREATE INDEX books_author_id ON books(author_id);
            -- migrate:down
            SELECT 1;
            """)
        let before = try dump(db)

        let error = migrationError { try workspace.migrator().migrate(db) }

        #expect(error?.kind == .foreignKeyViolation)
        let text = error?.description ?? ""
        #expect(
            text.hasPrefix(
                workspace.path(of: "20261124000000_priced_books_only.sql") + ":1: the up section leaves 1 row"))
        #expect(text.contains("order_lines row 7 references a missing row of books"))
        #expect(text.contains("The migration was rolled back"))
        #expect(try dump(db) == before)
        #expect(try db.blocking.write { try $0.scalar("PRAGMA foreign_keys") } == .integer(1))
    }

    // MARK: Rollback, targets, dry run, Swift migrations

    @Test func givenAppliedMigrationsWhoseFileIsGone_whenRollingBack_thenItIsRefusedUnlessStoredSQLIsAsked() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("2_books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        try workspace.migrator().migrate(db)
        try workspace.delete("2_books.sql")
        #expect(try workspace.migrator().status(db).map(\.state) == [.applied, .missing])

        // Refused by default: the stored SQL is no longer in the repository for anyone to review.
        let refused = #expect(throws: MigrationError.self) { try workspace.migrator().rollback(db) }
        #expect(refused?.kind == .missingMigration)
        #expect(refused?.message.contains("--use-stored-down") == true)
        #expect(try appliedVersions(db) == [1, 2])

        var migrator = try workspace.migrator()
        migrator.usesStoredDownSQL = true
        let runs = try migrator.rollback(db)

        #expect(runs.map(\.id) == ["2_books"])
        #expect(try tableNames(db) == ["authors", "docket_migrations"])
        #expect(try appliedVersions(db) == [1])
    }

    @Test func givenThreeApplied_whenRollingBackToTheFirst_thenTheOthersAreUndoneNewestFirst() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("2_books.sql", Self.books)
        try workspace.write(
            "3_customers.sql",
            "-- migrate:up\nCREATE TABLE customers (id INTEGER);\n-- migrate:down\nDROP TABLE customers;\n")
        let db = try workspace.open()
        defer { db.close() }
        let migrator = try workspace.migrator()
        #expect(try migrator.migrate(db, to: 2).map(\.version) == [1, 2])
        try migrator.migrate(db)

        let runs = try migrator.rollback(db, to: 1)

        #expect(runs.map(\.version) == [3, 2])
        #expect(runs.allSatisfy { $0.direction == .down })
        #expect(try appliedVersions(db) == [1])
        #expect(migrationError { try migrator.rollback(db, to: 2) }?.kind == .invalidTarget)
        #expect(migrationError { try migrator.rollback(db, steps: 2) }?.kind == .invalidTarget)
    }

    @Test func givenPendingMigrations_whenDryRunning_thenTheScriptShowsTheSQLAndTheDatabaseIsUnchanged() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        let db = try workspace.open()
        defer { db.close() }
        let before = try dump(db)
        let migrator = try workspace.migrator()

        let script = try migrator.dryRun(history: migrator.readHistory(db))

        #expect(
            script.contains(
                "PRAGMA foreign_keys = OFF;\nBEGIN IMMEDIATE;\nCREATE TABLE IF NOT EXISTS docket_migrations"))
        #expect(
            script.contains(
                "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO docket_migrations"))
        #expect(script.contains("PRAGMA foreign_key_check;"))
        #expect(try dump(db) == before)
    }

    @Test func givenASwiftBackfillBetweenFiles_whenMigratingAndRollingBack_thenItRunsInVersionOrder() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write("3_books.sql", Self.books)
        let db = try workspace.open()
        defer { db.close() }
        var migrator = try workspace.migrator()
        migrator.register(version: 2, name: "seed_authors") { connection in
            try connection.execute("INSERT INTO authors (name) VALUES (?)", ["Le Guin"])
        } down: { connection in
            try connection.execute("DELETE FROM authors")
        }

        let runs = try migrator.migrate(db)

        #expect(runs.map(\.id) == ["1_authors", "2_seed_authors", "3_books"])
        #expect(try db.blocking.read { try $0.scalar("SELECT count(*) FROM authors") } == .integer(1))
        try migrator.rollback(db, steps: 2)
        #expect(try db.blocking.read { try $0.scalar("SELECT count(*) FROM authors") } == .integer(0))

        var clash = try workspace.migrator()
        clash.register(version: 3, name: "clash") { _ in }
        #expect(migrationError { try clash.validate() }?.kind == .duplicateVersion)
    }

    @Test func givenANonTransactionalMigration_whenMigrating_thenItRunsOutsideATransaction() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", Self.authors)
        try workspace.write(
            "2_vacuum.sql", "-- migrate:up transaction:false\nVACUUM;\n-- migrate:down transaction:false\nVACUUM;\n")
        let db = try workspace.open()
        defer { db.close() }

        // VACUUM fails inside a transaction, so this passes only if the option is honoured.
        try workspace.migrator().migrate(db)
        #expect(try appliedVersions(db) == [1, 2])
        try workspace.migrator().rollback(db)
        #expect(try appliedVersions(db) == [1])
    }
}
