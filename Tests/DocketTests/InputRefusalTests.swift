import Docket
import Foundation
import Testing

struct Ledger: Model {
    var id: Int64?
    var amount: Decimal
}

struct Stamp: Model {
    var id: Int64?
    var at: Date
    static let mappingOptions = MappingOptions(dateStrategy: .unixEpochMilliseconds)
}

struct Note: Model {
    var id: Int64?
    var title: String
}

/// Inputs that must never be dropped silently (issue 15, part 2): SQL holding several statements,
/// query fragments that would end or hide the statement, and values that could be written but
/// never read back.
@Suite struct InputRefusalTests {
    func database() async throws -> Database {
        let db = try Database.temporary()
        try await db.write {
            try $0.execute(
                """
                CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
                INSERT INTO notes (id, title) VALUES (1, 'one'), (2, 'two;three');
                CREATE TABLE ledgers (id INTEGER PRIMARY KEY, amount TEXT NOT NULL);
                CREATE TABLE stamps (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
                """)
        }
        return db
    }

    func titles(_ db: Database) async throws -> [String] {
        try await db.read { try Note.all().order("id").fetchAll($0).map(\.title) }
    }

    @Test func givenAnUpdateFollowedByADrop_whenExecutedWithArguments_thenNothingRunsAndTheTableSurvives()
        async throws
    {
        let db = try await database()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.write { try $0.execute("UPDATE notes SET title = ? WHERE id = 1; DROP TABLE notes", ["x"]) }
        }
        #expect(error?.codeName == "SQLITE_MISUSE")
        #expect(error?.message.contains("more than one statement") == true)
        #expect(try await titles(db) == ["one", "two;three"])
    }

    @Test func givenSeveralStatementsInAFetch_whenRun_thenItThrowsInsteadOfRunningTheFirst() async throws {
        let db = try await database()
        await #expect(throws: DatabaseError.self) {
            try await db.read { try $0.fetchAll("SELECT * FROM notes; SELECT 1") }
        }
        await #expect(throws: DatabaseError.self) {
            try await db.write { try $0.scalar("DELETE FROM notes WHERE id = ?; SELECT 1", [1]) }
        }
        #expect(try await titles(db) == ["one", "two;three"])
    }

    @Test func givenATrailingSemicolonOrComment_whenRun_thenItIsOneStatement() async throws {
        let db = try await database()
        let count = try await db.read { try $0.scalar(Int.self, "SELECT count(*) FROM notes; -- all of them\n") }
        #expect(count == 2)
        // A script without arguments still runs every statement.
        try await db.write {
            try $0.execute("UPDATE notes SET title = 'a' WHERE id = 1; UPDATE notes SET title = 'b' WHERE id = 2")
        }
        #expect(try await titles(db) == ["a", "b"])
    }

    @Test func givenAFilterFragmentHoldingAnotherStatement_whenFetched_thenItThrowsAndRunsNothing() async throws {
        let db = try await database()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.read { try Note.filter("id = 1; DROP TABLE notes").fetchAll($0) }
        }
        #expect(error?.message.contains("the filter fragment `id = 1; DROP TABLE notes`") == true)
        await #expect(throws: DatabaseError.self) {
            try await db.read { try Note.all().order("id; DROP TABLE notes").fetchAll($0) }
        }
        await #expect(throws: DatabaseError.self) {
            try await db.write { try Note.filter("id = 1; DELETE FROM notes").fetchCount($0) }
        }
        #expect(try await titles(db) == ["one", "two;three"])
    }

    @Test func givenAFragmentWithACommentThatWouldHideTheOrder_whenFetched_thenItThrows() async throws {
        let db = try await database()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.read { try Note.filter("id > 0 --").order("id DESC").limit(1).fetchAll($0) }
        }
        #expect(error?.message.contains("`--` comment") == true)
        await #expect(throws: DatabaseError.self) {
            try await db.read { try Note.filter("title = 'unterminated").fetchAll($0) }
        }
    }

    @Test func givenASemicolonInsideAStringLiteral_whenFiltering_thenItIsPartOfTheValue() async throws {
        let db = try await database()
        let found = try await db.read { try Note.filter("title = 'two;three' /* quoted */").fetchAll($0) }
        #expect(found.map(\.id) == [2])
    }

    @Test func givenDecimalNaN_whenWritten_thenItIsRefusedAndNothingIsStored() async throws {
        let db = try await database()
        let uow = UnitOfWork(database: db)
        uow.insert(Ledger(amount: .nan))
        let error = await #expect(throws: MappingError.self) { try await uow.commit() }
        #expect(error?.message.contains("Decimal.nan cannot be stored") == true)
        #expect(error?.column == "ledgers.amount")
        let count = try await db.read { try $0.scalar(Int.self, "SELECT count(*) FROM ledgers") }
        #expect(count == 0)
    }

    @Test func givenADateTooFarForMilliseconds_whenWritten_thenItIsRefusedNotATrap() async throws {
        let db = try await database()
        let uow = UnitOfWork(database: db)
        uow.insert(Stamp(at: Date(timeIntervalSince1970: 1e300)))
        let error = await #expect(throws: MappingError.self) { try await uow.commit() }
        #expect(error?.message.contains("does not fit in 64-bit milliseconds") == true)
    }
}
