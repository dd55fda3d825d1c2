import Docket
import Foundation
import Testing

/// `insert(contentsOf:)`: many rows queued at once, sharing the caller's array, with the same
/// guarantees as `insert(_:)` one row at a time.
@Suite struct BulkInsertTests {
    static func authors(_ n: Int, from first: Int = 0) -> [Author] {
        (first..<first + n).map { Author(name: "Author \($0)") }
    }

    @Test func givenAnArrayOfModels_whenInsertedInBulkAndCommitted_thenEachGetsItsKeyAndTheCallersArrayIsUnchanged()
        async throws
    {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let authors = Self.authors(1000)
        let rows = uow.insert(contentsOf: authors)
        #expect(rows.count == 1000)
        #expect(uow.pendingChangeCount == 1000)
        #expect(!rows.isCommitted)
        try await uow.commit()

        #expect(rows.isCommitted)
        let stored = try await fx.db.read { try Author.all().order("id").fetchAll($0) }
        #expect(stored.map(\.name) == authors.map(\.name))
        #expect(rows.values.map(\.id) == stored.map(\.id))
        #expect(rows.map { $0.value } == stored)
        #expect(rows[999].id == stored[999].id)
        // The unit of work wrote the keys into its own copy, never into the caller's array.
        #expect(authors.allSatisfy { $0.id == nil })
    }

    @Test func givenBulkParents_whenChildrenLinkToThem_thenEachChildGetsItsParentsKey() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let authors = uow.insert(contentsOf: Self.authors(50))
        var books: [Inserted<Book>] = []
        for i in 0..<200 {
            books.append(try uow.insert(Book(title: "Book \(i)"), linking: \.authorID, to: authors[i % 50]))
        }
        try await uow.commit()

        for (i, book) in books.enumerated() {
            #expect(book.value.authorID == authors[i % 50].id)
        }
        let joined = try await fx.db.read {
            try $0.scalar(
                """
                SELECT count(*) FROM books JOIN authors ON authors.id = books.author_id
                WHERE authors.name = 'Author ' || ((CAST(substr(books.title, 6) AS INTEGER)) % 50)
                """
            ).integerValue
        }
        #expect(joined == 200)
    }

    @Test func givenSingleAndBulkInsertsInterleaved_whenCommitting_thenRowsKeepQueueOrder() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let first = uow.insert(Author(name: "first"))
        let middle = uow.insert(contentsOf: Self.authors(3))
        let last = uow.insert(Author(name: "last"))
        let more = uow.insert(contentsOf: Self.authors(2, from: 10))
        #expect(uow.pendingChangeCount == 7)
        try await uow.commit()

        let stored = try await fx.db.read { try Author.all().order("id").fetchAll($0) }
        #expect(
            stored.map(\.name) == ["first", "Author 0", "Author 1", "Author 2", "last", "Author 10", "Author 11"])
        let keys = [first.id] + middle.map(\.id) + [last.id] + more.map(\.id)
        #expect(keys == stored.map(\.id))
    }

    @Test func givenABulkInsertFollowedByUpdatesAndDeletes_whenCommitting_thenEveryChangeLands() async throws {
        let fx = try Fixture()
        let seed = UnitOfWork(database: fx.db)
        let seeded = seed.insert(contentsOf: Self.authors(3))
        try await seed.commit()

        let uow = UnitOfWork(database: fx.db)
        let rows = uow.insert(contentsOf: Self.authors(2, from: 10))
        var renamed = seeded[0].value
        renamed.name = "renamed"
        uow.update(renamed)
        uow.delete(seeded[1].value)
        let tail = uow.insert(Author(name: "tail"))
        try await uow.commit()

        let stored = try await fx.db.read { try Author.all().order("id").fetchAll($0) }
        #expect(stored.map(\.name) == ["renamed", "Author 2", "Author 10", "Author 11", "tail"])
        #expect(stored.map(\.id) == [seeded[0].id, seeded[2].id] + rows.map(\.id) + [tail.id])
    }

    @Test func givenABulkRowThatBreaksAUniqueConstraint_whenCommitting_thenTheErrorNamesItAndNothingIsWritten()
        async throws
    {
        let fx = try Fixture()
        let setup = UnitOfWork(database: fx.db)
        let author = setup.insert(Author(name: "Le Guin"))
        try await setup.commit()
        let authorID = try #require(author.id)

        let uow = UnitOfWork(database: fx.db)
        var books = (0..<5).map { Book(authorID: authorID, title: "Book \($0)", isbn: "isbn-\($0)") }
        books[3].isbn = "isbn-1"
        let rows = uow.insert(contentsOf: books)
        let error = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        #expect(error?.constraint?.kind == .unique)
        #expect(error?.constraint?.columns == ["isbn"])
        #expect("\(error!)".contains("inserting Book #4 into books"), "\(error!)")
        #expect(try fx.count("books") == 0)
        #expect(rows.allSatisfy { $0.id == nil })
        #expect(uow.pendingChangeCount == 5)
        #expect(try fx.integrity() == "ok")
    }

    @Test func givenABulkInsertInANestedScopeThatThrows_whenCommitting_thenOnlyTheRowsBeforeItLand() async throws {
        struct Abort: Error {}
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(contentsOf: Self.authors(2))
        #expect(throws: Abort.self) {
            try uow.nested {
                uow.insert(contentsOf: Self.authors(3, from: 10))
                uow.insert(Author(name: "inside"))
                throw Abort()
            }
        }
        #expect(uow.pendingChangeCount == 2)
        let after = uow.insert(contentsOf: Self.authors(1, from: 20))
        try await uow.commit()

        let stored = try await fx.db.read { try Author.all().order("id").fetchAll($0) }
        #expect(stored.map(\.name) == ["Author 0", "Author 1", "Author 20"])
        #expect(after[0].id == stored[2].id)
    }

    @Test func givenKeysThatDoNotCountUp_whenCommitting_thenEveryHandleStillGetsItsOwnKey() async throws {
        let fx = try Fixture()
        let setup = UnitOfWork(database: fx.db)
        let existing = setup.insert(Author(name: "existing"))
        try await setup.commit()
        let existingID = try #require(existing.id)

        // Children queued before their parents are inserted after them: keys are recorded out of
        // queue order. Explicit keys break the run of generated ones.
        let uow = UnitOfWork(database: fx.db)
        let book = uow.insert(Book(authorID: existingID, title: "queued first"))
        let generated = uow.insert(contentsOf: Self.authors(3))
        let explicit = uow.insert(Author(id: 500, name: "explicit"))
        let afterExplicit = uow.insert(contentsOf: Self.authors(2, from: 10))
        try await uow.commit()

        let stored = try await fx.db.read { try Author.all().order("id").fetchAll($0) }
        let byName = Dictionary(uniqueKeysWithValues: stored.map { ($0.name, $0.id) })
        #expect(generated.map(\.id) == ["Author 0", "Author 1", "Author 2"].map { byName[$0]! })
        #expect(explicit.id == 500)
        #expect(afterExplicit.map(\.id) == ["Author 10", "Author 11"].map { byName[$0]! })
        let bookID = try await fx.db.read { try $0.scalar("SELECT id FROM books").integerValue }
        #expect(book.id == bookID)
    }

    @Test func givenABulkInsertIntoAQueueWithRows_whenTheCallerKeepsTheArray_thenBothStayIndependent() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Author(name: "before"))
        var mine = Self.authors(2)
        let rows = uow.insert(contentsOf: mine)
        mine[0].name = "changed after queueing"
        try await uow.commit()

        let names = try await fx.db.read { try Author.all().order("id").fetchAll($0) }.map(\.name)
        #expect(names == ["before", "Author 0", "Author 1"])
        #expect(rows[0].value.name == "Author 0")
        #expect(mine.allSatisfy { $0.id == nil })
    }
}
