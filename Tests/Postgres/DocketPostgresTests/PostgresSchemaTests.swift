import Docket
import DocketPostgres
import Testing

/// Table metadata read from `pg_catalog` in the form the shared planner takes, and the planner
/// ordering a commit against it: the plan is data, whichever backend runs it.
@Suite(.enabled(if: PostgresServer.enabled)) struct PostgresSchemaTests {
    static let schema = """
        CREATE TABLE authors (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);
        CREATE TABLE books (
            id BIGSERIAL PRIMARY KEY,
            author_id BIGINT NOT NULL REFERENCES authors(id),
            editor_id BIGINT REFERENCES authors(id) DEFERRABLE INITIALLY IMMEDIATE,
            title TEXT NOT NULL,
            pages INTEGER CHECK (pages > 0));
        CREATE UNIQUE INDEX books_title ON books (title);
        CREATE UNIQUE INDEX books_lower_title ON books (lower(title));
        """

    @Test func givenTables_whenRead_thenColumnsKeysIndexesAndChecksAreThePlannersForm() async throws {
        try await PostgresServer.withDatabase { db in
            for statement in Self.schema.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                try await db.execute(String(statement))
            }
            let books = try await db.tableInfo("books")
            #expect(books.columns.map(\.name) == ["id", "author_id", "editor_id", "title", "pages"])
            #expect(books.columns.map(\.primaryKeyIndex) == [1, 0, 0, 0, 0])
            #expect(books.columns.map(\.notNull) == [true, true, false, true, false])
            #expect(books.columns[0].hasDefault)  // the BIGSERIAL's sequence
            #expect(books.columns[1].declaredType == "bigint")
            #expect(
                Set(books.foreignKeys) == [
                    .init(parentTable: "authors", columns: ["author_id"], parentColumns: ["id"], isDeferrable: false),
                    .init(parentTable: "authors", columns: ["editor_id"], parentColumns: ["id"], isDeferrable: true),
                ])
            // The expression index is not a plain-column unique index.
            #expect(books.uniqueIndexes == [.init(name: "books_title", columns: ["title"])])
            #expect(books.checks.contains("pages > 0"))
            #expect(!books.hasTriggers)
            let authors = try await db.tableInfo("authors")
            #expect(authors.uniqueIndexes.map(\.columns) == [["email"]])
            #expect(authors.referencedColumns == ["id"])
        }
    }

    @Test func givenAMissingTable_whenRead_thenTheErrorNamesIt() async throws {
        try await PostgresServer.withDatabase { db in
            await #expect {
                try await db.tableInfo("nowhere")
            } throws: { error in
                let error = error as? DatabaseError
                return error?.sqlState == "42P01" && error?.message.contains("nowhere") == true
            }
        }
    }

    @Test func givenChildrenQueuedFirst_whenPlannedAgainstPostgresTables_thenParentsGoFirst() async throws {
        try await PostgresServer.withDatabase { db in
            for statement in Self.schema.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                try await db.execute(String(statement))
            }
            let schema = try await db.tablesWithParents(["books"])
            #expect(Set(schema.keys) == ["books", "authors"])
            let changes = [
                RowChange(
                    index: 0, kind: .insert, table: "books", model: "Book", columns: ["id", "author_id", "title"],
                    values: [.null, .null, .text("The Dispossessed")], snapshot: nil, keySlot: 0, generatesKey: true,
                    links: [.init(slot: 1, parent: 1)], versionSlot: nil),
                RowChange(
                    index: 1, kind: .insert, table: "authors", model: "Author", columns: ["id", "name"],
                    values: [.null, .text("Le Guin")], snapshot: nil, keySlot: 0, generatesKey: true, links: [],
                    versionSlot: nil),
            ]
            let plan = try FlushPlanner.plan(changes, schema: schema)
            #expect(
                plan.steps == [
                    .insert(table: "authors", columns: ["id", "name"], rows: [1]),
                    .insert(table: "books", columns: ["id", "author_id", "title"], rows: [0]),
                ])
        }
    }
}
