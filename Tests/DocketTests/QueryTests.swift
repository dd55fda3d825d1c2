import Docket
import Foundation
import Testing

/// Reading models: by primary key, all, filtered, ordered, limited, counted, raw SQL; and the
/// naming rules that decide which table and columns a model reads.
@Suite struct QueryTests {
    struct Author: Model, Equatable {
        var id: Int64?
        var name: String
    }
    struct Book: Model, Equatable {
        var id: Int64?
        var authorID: Int64
        var title: String
        var pages: Int
        var isbnCode: String?
        static let columnNaming = ColumnNaming.snakeCase
    }

    static let schema = """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
            title TEXT NOT NULL, pages INTEGER NOT NULL, isbn_code TEXT);
        INSERT INTO authors (name) VALUES ('Le Guin'), ('Herbert');
        INSERT INTO books (author_id, title, pages, isbn_code) VALUES
            (1, 'A Wizard of Earthsea', 183, NULL),
            (1, 'The Left Hand of Darkness', 304, 'LH'),
            (2, 'Dune', 412, 'D1'),
            (1, 'The Dispossessed', 387, NULL),
            (2, 'Dune Messiah', 256, NULL);
        """

    static func database() async throws -> Database {
        let db = try Database.temporary()
        try await db.write { try $0.execute(schema) }
        return db
    }

    @Test func givenBooks_whenFindingByPrimaryKey_thenTheRowOrNilComesBack() async throws {
        let db = try await Self.database()
        let (dune, missing) = try await db.read { db in (try Book.find(3, in: db), try Book.find(99, in: db)) }
        #expect(dune == Book(id: 3, authorID: 2, title: "Dune", pages: 412, isbnCode: "D1"))
        #expect(missing == nil)
    }

    @Test func givenBooks_whenFetchingAll_thenEveryRowIsDecoded() async throws {
        let db = try await Self.database()
        let (books, count) = try await db.read { db in (try Book.fetchAll(db), try Book.fetchCount(db)) }
        #expect(books.count == 5)
        #expect(Set(books.compactMap(\.id)) == [1, 2, 3, 4, 5])
        #expect(count == 5)
    }

    @Test func givenBooks_whenFilteringWithBoundArguments_thenOnlyMatchesComeBack() async throws {
        let db = try await Self.database()
        let titles = try await db.read { db in
            try Book.filter("author_id = ?", [1]).filter("pages > ?", [200]).order("title").fetchAll(db).map(\.title)
        }
        #expect(titles == ["The Dispossessed", "The Left Hand of Darkness"])
    }

    @Test func givenAHostileArgument_whenFiltering_thenItIsAValueNotSQL() async throws {
        let db = try await Self.database()
        let (matches, count) = try await db.read { db in
            (try Book.filter("title = ?", ["x' OR '1'='1"]).fetchAll(db), try Book.fetchCount(db))
        }
        #expect(matches.isEmpty)
        #expect(count == 5)
    }

    @Test func givenBooks_whenOrderingLimitingAndOffsetting_thenTheRightPageComesBack() async throws {
        let db = try await Self.database()
        let query = Book.all().order("pages DESC, id").limit(2, offset: 1)
        let titles = try await db.read { try query.fetchAll($0).map(\.title) }
        #expect(titles == ["The Dispossessed", "The Left Hand of Darkness"])
        #expect(query.sql == #"SELECT * FROM "books" ORDER BY pages DESC, id LIMIT 2 OFFSET 1"#)
    }

    @Test func givenAFilteredQuery_whenCountingAndCheckingExistence_thenLimitAndArgumentsApply() async throws {
        let db = try await Self.database()
        let results = try await db.read { db in
            [
                try Book.filter("author_id = ?", [2]).fetchCount(db),
                try Book.filter("author_id = ?", [1]).limit(2).fetchCount(db),
                try Book.all().limit(10, offset: 4).fetchCount(db),
                try Book.filter("pages > ?", [400]).exists(db) ? 1 : 0,
                try Book.filter("pages > ?", [1000]).exists(db) ? 1 : 0,
            ]
        }
        #expect(results == [2, 2, 1, 1, 0])
    }

    @Test func givenAQuery_whenFetchingOne_thenTheFirstInOrderComesBack() async throws {
        let db = try await Self.database()
        let (shortest, none) = try await db.read { db in
            (
                try Book.all().order("pages").fetchOne(db)?.title,
                try Book.filter("title LIKE ?", ["Z%"]).fetchOne(db)
            )
        }
        #expect(shortest == "A Wizard of Earthsea")
        #expect(none == nil)
    }

    @Test func givenRawSQL_whenFetchingModels_thenAJoinDecodes() async throws {
        let db = try await Self.database()
        let books = try await db.read { db in
            try Book.fetchAll(
                db,
                sql: "SELECT b.* FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ? ORDER BY b.id",
                ["Herbert"])
        }
        #expect(books.map(\.title) == ["Dune", "Dune Messiah"])
    }

    @Test func givenRawSQL_whenFetchingRows_thenColumnsAndValuesAreAddressable() async throws {
        let db = try await Self.database()
        let rows = try await db.read { db in
            try db.fetchAll(
                "SELECT a.name, count(*) AS books, sum(pages) AS pages FROM books b JOIN authors a ON a.id = b.author_id "
                    + "GROUP BY a.id ORDER BY a.name")
        }
        #expect(rows.map(\.columns) == [["name", "books", "pages"], ["name", "books", "pages"]])
        #expect(rows[0]["name"] == .text("Herbert"))
        #expect(rows[0]["pages"] == .integer(668))
        #expect(rows[1][1] == .integer(3))
        #expect(rows[1]["missing"] == nil)
        #expect(rows[0].description == "[name: 'Herbert', books: 2, pages: 668]")
    }

    // MARK: Naming

    @Test func givenSnakeCaseNaming_whenMappingKeys_thenCamelCaseBecomesSnakeCase() {
        let naming = ColumnNaming.snakeCase
        #expect(naming.column(for: "authorID") == "author_id")
        #expect(naming.column(for: "isbnCode") == "isbn_code")
        #expect(naming.column(for: "URLString") == "url_string")
        #expect(naming.column(for: "isbn13") == "isbn13")
        #expect(naming.column(for: "id") == "id")
        #expect(ColumnNaming.asIs.column(for: "authorID") == "authorID")
        #expect(Book.primaryKeyColumn == "id")
    }

    struct Category: Model {
        var id: Int64?
    }
    struct OrderLine: Model {
        var id: Int64?
    }
    struct Box: Model {
        var id: Int64?
    }
    struct Person: Model {
        var id: Int64?
        static let tableName = "people"
    }

    @Test func givenModelTypes_whenNoTableNameIsDeclared_thenTheNameIsSnakeCasedAndPluralized() {
        #expect(Book.tableName == "books")
        #expect(Author.tableName == "authors")
        #expect(Category.tableName == "categories")
        #expect(OrderLine.tableName == "order_lines")
        #expect(Box.tableName == "boxes")
        #expect(Person.tableName == "people")
    }

    @Test func givenAnOverriddenTableName_whenQuerying_thenThatTableIsRead() async throws {
        let db = try Database.temporary()
        try await db.write {
            try $0.execute("CREATE TABLE people (id INTEGER PRIMARY KEY); INSERT INTO people VALUES (7)")
        }
        let people = try await db.read { try Person.fetchAll($0).map(\.id) }
        #expect(people == [7])
        #expect(Person.all().sql == #"SELECT * FROM "people""#)
    }
}

@Suite struct SchemaChangeTests {
    struct Gadget: Model, Equatable {
        var id: Int64?
        var name: String
        var size: Int
    }

    @Test func givenACachedSelectStar_whenTheTableIsRebuiltWithColumnsInAnotherOrder_thenRowsStillDecodeCorrectly()
        async throws
    {
        let db = try Database.temporary()
        try await db.write {
            try $0.execute("CREATE TABLE gadgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL)")
            try $0.execute("INSERT INTO gadgets (name, size) VALUES ('lever', 3)")
        }
        let first = try await db.write { try Gadget.fetchAll($0) }
        #expect(first == [Gadget(id: 1, name: "lever", size: 3)])
        try await db.write {
            try $0.execute(
                """
                CREATE TABLE gadgets_new (size INTEGER NOT NULL, id INTEGER PRIMARY KEY, extra TEXT, name TEXT NOT NULL);
                INSERT INTO gadgets_new (size, id, name) SELECT size, id, name FROM gadgets;
                DROP TABLE gadgets;
                ALTER TABLE gadgets_new RENAME TO gadgets;
                """)
        }
        let second = try await db.write { try Gadget.fetchAll($0) }
        #expect(second == [Gadget(id: 1, name: "lever", size: 3)])
    }
}
