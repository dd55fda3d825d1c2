import Docket
import Foundation
import Testing

/// Opening databases, typed SQLite errors, the statement cache and the pragmas every connection
/// gets, all observed through the public API.
@Suite struct ConnectionTests {
    static let schema = """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE books (
            id INTEGER PRIMARY KEY,
            author_id INTEGER REFERENCES authors(id),
            isbn TEXT UNIQUE,
            title TEXT NOT NULL,
            pages INTEGER CONSTRAINT pages_positive CHECK (pages > 0),
            edition INTEGER,
            shelf TEXT,
            UNIQUE (shelf, edition)
        );
        INSERT INTO authors (name) VALUES ('Le Guin');
        INSERT INTO books (author_id, isbn, title, pages, edition, shelf) VALUES (1, '978-0', 'Earthsea', 200, 1, 'A');
        """

    static func database() async throws -> Database {
        let db = try Database.temporary()
        try await db.write { try $0.execute(schema) }
        return db
    }

    /// Runs `sql` in a write and returns the `DatabaseError` it throws; the write must roll back.
    static func error(of sql: String, _ arguments: [any DatabaseValueConvertible] = []) async throws -> DatabaseError? {
        let db = try await database()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.write { db in
                try db.execute("INSERT INTO authors (name) VALUES ('rolled back')")
                try db.execute(sql, arguments)
            }
        }
        let authors = try await db.read { try $0.scalar("SELECT count(*) FROM authors") }
        #expect(authors == .integer(1))
        return error
    }

    // MARK: Typed errors

    @Test func givenAUniqueColumn_whenADuplicateIsInserted_thenTheErrorNamesKindTableAndColumn() async throws {
        let sql = "INSERT INTO books (isbn, title) VALUES (?, ?)"
        let error = try await Self.error(of: sql, ["978-0", "Copy"])
        #expect(error?.constraint?.kind == .unique)
        #expect(error?.constraint?.table == "books")
        #expect(error?.constraint?.columns == ["isbn"])
        #expect(error?.resultCode == 19)  // SQLITE_CONSTRAINT
        #expect(error?.extendedResultCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE
        #expect(error?.codeName == "SQLITE_CONSTRAINT_UNIQUE")
        #expect(error?.sql == sql)
        #expect(error?.message == "UNIQUE constraint failed: books.isbn")
        #expect(
            error?.description
                == "UNIQUE constraint failed: books.isbn (SQLITE_CONSTRAINT_UNIQUE) in SQL: \(sql)")
    }

    @Test func givenATwoColumnUniqueConstraint_whenViolated_thenBothColumnsAreParsed() async throws {
        let error = try await Self.error(of: "INSERT INTO books (title, shelf, edition) VALUES ('x', 'A', 1)")
        #expect(error?.constraint?.kind == .unique)
        #expect(error?.constraint?.table == "books")
        #expect(error?.constraint?.columns == ["shelf", "edition"])
    }

    @Test func givenAnIntegerPrimaryKey_whenADuplicateIsInserted_thenTheKindIsPrimaryKey() async throws {
        let error = try await Self.error(of: "INSERT INTO books (id, title) VALUES (1, 'x')")
        #expect(error?.constraint?.kind == .primaryKey)
        #expect(error?.constraint?.columns == ["id"])
        #expect(error?.extendedResultCode == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
    }

    @Test func givenANotNullColumn_whenNULLIsInserted_thenTheErrorNamesTheColumn() async throws {
        let error = try await Self.error(of: "INSERT INTO books (title) VALUES (NULL)")
        #expect(error?.constraint?.kind == .notNull)
        #expect(error?.constraint?.table == "books")
        #expect(error?.constraint?.columns == ["title"])
        #expect(error?.extendedResultCode == 1299)  // SQLITE_CONSTRAINT_NOTNULL
    }

    @Test func givenANamedCheckConstraint_whenViolated_thenTheErrorNamesTheConstraint() async throws {
        let error = try await Self.error(of: "INSERT INTO books (title, pages) VALUES ('x', -1)")
        #expect(error?.constraint?.kind == .check)
        #expect(error?.constraint?.name == "pages_positive")
        #expect(error?.constraint?.columns == [])
        #expect(error?.extendedResultCode == 275)  // SQLITE_CONSTRAINT_CHECK
    }

    @Test func givenAForeignKey_whenAMissingParentIsReferenced_thenTheKindIsForeignKey() async throws {
        let error = try await Self.error(of: "INSERT INTO books (title, author_id) VALUES ('x', 99)")
        #expect(error?.constraint?.kind == .foreignKey)
        #expect(error?.extendedResultCode == 787)  // SQLITE_CONSTRAINT_FOREIGNKEY
        #expect(error?.codeName == "SQLITE_CONSTRAINT_FOREIGNKEY")
    }

    @Test func givenASyntaxError_whenPrepared_thenTheErrorCarriesTheSQLAndNoConstraint() async throws {
        let error = try await Self.error(of: "INSERT INTO nowhere VALUES (1)")
        #expect(error?.resultCode == 1)  // SQLITE_ERROR
        #expect(error?.message == "no such table: nowhere")
        #expect(error?.sql == "INSERT INTO nowhere VALUES (1)")
        #expect(error?.constraint == nil)
    }

    @Test func givenTheWrongNumberOfArguments_whenBound_thenTheErrorSaysHowMany() async throws {
        let error = try await Self.error(of: "INSERT INTO books (title, pages) VALUES (?, ?)", ["x"])
        #expect(error?.message == "the statement has 2 parameters but 1 values were given")
        #expect(error?.codeName == "SQLITE_RANGE")
    }

    @Test func givenAHostileValue_whenBoundAndReadBack_thenItIsStoredLiterallyAndTheTableSurvives() async throws {
        let db = try await Self.database()
        let hostile = "'); DROP TABLE books; --"
        try await db.write { db in
            try db.execute("INSERT INTO books (title, isbn) VALUES (?, ?)", [hostile, hostile])
        }
        let (titles, tables) = try await db.read { db in
            (
                try db.fetchAll("SELECT title FROM books WHERE isbn = ?", [hostile]).map { $0[0] },
                try db.fetchAll("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { $0[0] }
            )
        }
        #expect(titles == [.text(hostile)])
        #expect(tables == [.text("authors"), .text("books")])
    }

    // MARK: Opening

    @Test func givenAFolderThatDoesNotExist_whenOpening_thenTheErrorNamesTheFolder() throws {
        let folder = "/tmp/docket-missing-\(UUID().uuidString)"
        let error = #expect(throws: DatabaseError.self) { try Database(path: "\(folder)/app.sqlite") }
        #expect(
            error?.message == "unable to open database file \(folder)/app.sqlite: the folder \(folder) does not exist")
        #expect(error?.codeName.hasPrefix("SQLITE_CANTOPEN") == true)
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func givenAFileThatIsNotADatabase_whenOpening_thenTheErrorSaysSo() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("random.bin").path
        let junk = Data((0..<8192).map { _ in UInt8.random(in: 0...255) })
        try junk.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DatabaseError.self) { try Database(path: path) }
        #expect(error?.message == "\(path) is not a SQLite database (file is not a database)")
        #expect(error?.codeName == "SQLITE_NOTADB")
        // The file is left as it was.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == junk)
    }

    @Test(arguments: [UInt8(1), 0x57])
    func givenASQLiteHeaderFollowedByGarbage_whenOpening_thenItIsCorruptNeverReadOnly(version: UInt8) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("damaged.sqlite").path
        var bytes = Array("SQLite format 3\0".utf8) + (16..<8192).map { _ in UInt8.random(in: 0...255) }
        // Byte 18/19: the file format's write and read versions. Garbage there makes SQLite open the
        // file read-only, which used to be reported as a permissions problem.
        bytes[18] = version
        bytes[19] = version
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DatabaseError.self) { try Database(path: path) }
        #expect(error?.codeName != "SQLITE_READONLY", "\(String(describing: error))")
        #expect(error?.message.contains("read-only") == false, "\(String(describing: error))")
        #expect(
            error?.message.contains("corrupt") == true || error?.message.contains("not a SQLite database") == true,
            "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
    }

    @Test func givenAClosedDatabase_whenWriting_thenTheErrorSaysItIsClosed() async throws {
        let db = try Database.temporary()
        db.close()
        let error = await #expect(throws: DatabaseError.self) { try await db.write { _ in 1 } }
        #expect(error?.message == "the database is closed")
        #expect(throws: DatabaseError.self) { try db.blocking.read { _ in 1 } }
    }

    // MARK: Pragmas

    @Test(arguments: [Configuration.Synchronous.off, .normal, .full, .extra])
    func givenAConfiguration_whenConnectionsOpen_thenWALForeignKeysAndSynchronousAreSet(
        synchronous: Configuration.Synchronous
    ) async throws {
        var configuration = Configuration()
        configuration.synchronous = synchronous
        let db = try Database.temporary(configuration: configuration)
        let pragmas = "SELECT * FROM pragma_journal_mode, pragma_foreign_keys, pragma_synchronous"
        let expected: [DatabaseValue] = [
            .text("wal"), .integer(1), .integer(["OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3][synchronous.rawValue]!),
        ]
        let writer = try await db.write { try $0.fetchOne(pragmas)?.values }
        // Every reader, not just one: ask more reads at once than there are readers.
        let readers = try await withThrowingTaskGroup(of: [DatabaseValue]?.self) { group in
            for _ in 0..<(configuration.readerCount * 3) {
                group.addTask { try await db.read { try $0.fetchOne(pragmas)?.values } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(writer == expected)
        #expect(readers.allSatisfy { $0 == expected })
    }

    @Test func givenAReaderConnection_whenItTriesToWrite_thenItIsRefused() async throws {
        let db = try await Self.database()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.read { try $0.execute("DELETE FROM books") }
        }
        #expect(error?.message == "attempt to write a readonly database")
        let count = try await db.read { try $0.scalar("SELECT count(*) FROM books") }
        #expect(count == .integer(1))
    }

    // MARK: Statement cache

    @Test func givenACacheOfCapacityN_whenNPlusOneStatementsArePrepared_thenItHoldsN() async throws {
        var configuration = Configuration()
        configuration.statementCacheCapacity = 4
        let db = try Database.temporary(configuration: configuration)
        let counts = try await db.write { db in
            _ = try db.cachedStatement("SELECT 1")  // warm: the writer may hold statements from opening
            let before = db.cachedStatementCount
            var counts: [Int] = []
            for n in 2...6 {
                _ = try db.cachedStatement("SELECT \(n)")
                counts.append(db.cachedStatementCount)
            }
            return (before, counts)
        }
        #expect(counts.0 <= 4)
        #expect(counts.1.last == 4)
        #expect(counts.1.allSatisfy { $0 <= 4 })
    }

    @Test func givenACachedStatement_whenTheSameSQLIsUsedAgain_thenTheSameStatementIsReused() async throws {
        let db = try Database.temporary()
        let (sameObject, countBefore, countAfter) = try await db.write { db in
            let first = try db.cachedStatement("SELECT ?")
            let before = db.cachedStatementCount
            let second = try db.cachedStatement("SELECT ?")
            return (first === second, before, db.cachedStatementCount)
        }
        #expect(sameObject)
        #expect(countBefore == countAfter)
    }

    @Test func givenAFullCache_whenANewStatementIsPrepared_thenTheLeastRecentlyUsedOneIsEvicted() async throws {
        var configuration = Configuration()
        configuration.statementCacheCapacity = 2
        let db = try Database.temporary(configuration: configuration)
        let (aKept, bKept) = try await db.write { db in
            let a = try db.cachedStatement("SELECT 'a'")
            let b = try db.cachedStatement("SELECT 'b'")
            _ = try db.cachedStatement("SELECT 'a'")  // a is now more recent than b
            _ = try db.cachedStatement("SELECT 'c'")  // evicts b
            return (try db.cachedStatement("SELECT 'a'") === a, try db.cachedStatement("SELECT 'b'") === b)
        }
        #expect(aKept)
        #expect(!bKept)
    }

    @Test func givenACachedStatementStillRunning_whenTheSameSQLIsNested_thenBothRunIndependently() async throws {
        let db = try await Self.database()
        let pairs = try await db.read { db in
            var pairs: [String] = []
            let sql = "SELECT title FROM books UNION ALL SELECT name FROM authors ORDER BY 1"
            let outer = try db.cachedStatement(sql)
            while try outer.step() {
                let inner = try db.fetchAll(sql).count
                pairs.append("\(outer.text(0) ?? "?"):\(inner)")
            }
            return pairs
        }
        #expect(pairs == ["Earthsea:2", "Le Guin:2"])
    }
}
