import Docket
import Foundation
import Testing

struct Gauge: Model {
    var id: Int64?
    var level: Int
}

/// Errors carry fields to switch on (issue 14, part 5): the constraint kind, the table, the key
/// and the columns, for CHECK and FOREIGN KEY failures too; values read as typed Swift values.
@Suite struct ErrorFieldTests {
    func failure(_ uow: UnitOfWork) async -> DatabaseError? {
        do {
            try await uow.commit()
        } catch let error as DatabaseError {
            return error
        } catch {
            Issue.record("expected a DatabaseError, got \(error)")
        }
        return nil
    }

    @Test func givenACheckFailure_whenCommitting_thenTheErrorNamesTableKeyAndChange() async throws {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("CREATE TABLE gauges (id INTEGER PRIMARY KEY, level INTEGER CHECK (level >= 0))")
        }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Gauge(id: 5, level: -1))
        let error = try #require(await failure(uow))
        #expect(error.constraint?.kind == .check)
        #expect(error.constraint?.table == "gauges")
        #expect(error.constraint?.key == .integer(5))
        #expect(error.change == "Gauge #1")
        #expect(error.table == "gauges")
    }

    @Test func givenAMissingParent_whenInserting_thenTheErrorNamesTheColumnAndTheReferencedTable() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Book(id: 9, authorID: 42, title: "orphan"))
        let error = try #require(await failure(uow))
        #expect(error.constraint?.kind == .foreignKey)
        #expect(error.constraint?.table == "books")
        #expect(error.constraint?.columns == ["author_id"])
        #expect(error.constraint?.referencedTable == "authors")
        #expect(error.key == .integer(9))
    }

    @Test func givenADeleteOfAReferencedRow_whenCommitting_thenTheErrorNamesWhatStillReferencesIt() async throws {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute(
                "INSERT INTO authors (id, name) VALUES (1, 'a'); INSERT INTO books (author_id, title) VALUES (1, 'b')")
        }
        let uow = UnitOfWork(database: fx.db)
        uow.delete(Author(id: 1, name: "a"))
        let error = try #require(await failure(uow))
        #expect(error.constraint?.kind == .foreignKey)
        #expect(error.constraint?.table == "authors")
        #expect(error.constraint?.key == .integer(1))
        #expect(error.constraint?.referencedTable == "books")
        #expect(error.constraint?.columns == ["author_id"])
    }

    @Test func givenAUniqueFailure_whenCommitting_thenSQLitesTableAndColumnsComeWithTheKey() async throws {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute(
                "INSERT INTO authors (id, name) VALUES (1, 'a'); INSERT INTO books (author_id, title, isbn) VALUES (1, 'b', 'x')"
            )
        }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Book(id: 3, authorID: 1, title: "c", isbn: "x"))
        let error = try #require(await failure(uow))
        #expect(error.constraint?.kind == .unique)
        #expect(error.constraint?.table == "books")
        #expect(error.constraint?.columns == ["isbn"])
        #expect(error.constraint?.key == .integer(3))
    }

    @Test func givenValuesOfEachStorageClass_whenReadAsTypes_thenTheAccessorsAnswer() async throws {
        let fx = try Fixture()
        let read = try await fx.db.read { db in
            (
                try db.scalar(Int64.self, "SELECT 42"), try db.scalar(Int.self, "SELECT 7"),
                try db.scalar(Double.self, "SELECT 2.5"), try db.scalar(String.self, "SELECT 'text'"),
                try db.scalar(Data.self, "SELECT x'0102'"), try db.scalar(Bool.self, "SELECT 1"),
                try db.scalar(String.self, "SELECT NULL"), try db.scalar(Int.self, "SELECT 1 WHERE 0")
            )
        }
        #expect(read.0 == 42)
        #expect(read.1 == 7)
        #expect(read.2 == 2.5)
        #expect(read.3 == "text")
        #expect(read.4 == Data([1, 2]))
        #expect(read.5 == true)
        #expect(read.6 == nil)
        #expect(read.7 == nil)
        #expect(DatabaseValue.integer(3).doubleValue == 3)
        #expect(DatabaseValue.blob(Data([9])).dataValue == Data([9]))
        #expect(DatabaseValue.text("a").integerValue == nil)
    }

    @Test func givenAValueOfAnotherType_whenReadTyped_thenItThrowsNamingTheValueAndSQL() async throws {
        let fx = try Fixture()
        let error = await #expect(throws: DatabaseError.self) {
            try await fx.db.read { try $0.scalar(Int64.self, "SELECT 'abc'") }
        }
        #expect(error?.codeName == "SQLITE_MISMATCH")
        #expect(error?.message == "cannot read TEXT 'abc' as Int64: it is stored as TEXT")
        #expect(error?.sql == "SELECT 'abc'")
    }
}

/// A model whose `encode(to:)` is not one key per column.
struct Scalar: Model {
    var id: Int64?
    var value: Int
    static let tableName = "gauges"
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A model whose `encode(to:)` opens a nested container for a column.
struct Nested: Model {
    var id: Int64?
    var level: Int
    static let tableName = "gauges"
    enum CodingKeys: String, CodingKey { case id, level }
    enum Inner: String, CodingKey { case value }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        var inner = container.nestedContainer(keyedBy: Inner.self, forKey: .level)
        try inner.encode(level, forKey: .value)
    }
}

@Suite struct EncodingShapeTests {
    @Test func givenAModelEncodingAsASingleValue_whenCommitted_thenItThrowsNamingTheModelAndNothingLands()
        async throws
    {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute("CREATE TABLE gauges (id INTEGER PRIMARY KEY, level INTEGER)") }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Scalar(id: 1, value: 3))
        let error = await #expect(throws: MappingError.self) { try await uow.commit() }
        #expect(error?.model == "Scalar")
        #expect(error?.message.contains("must encode as a keyed container") == true)
        #expect(try fx.count("gauges") == 0)
    }

    @Test func givenAModelWithANestedContainer_whenCommitted_thenItThrowsNamingTheColumn() async throws {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute("CREATE TABLE gauges (id INTEGER PRIMARY KEY, level INTEGER)") }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Nested(id: 1, level: 3))
        let error = await #expect(throws: MappingError.self) { try await uow.commit() }
        #expect(error?.column == "gauges.level")
        #expect(try fx.count("gauges") == 0)
    }
}
