import Docket
import Foundation
import Testing

/// Moving rows to new parents and bulk inserts with links (issue 14, part 5).
@Suite struct LinkingTests {
    func seeded() async throws -> Fixture {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("INSERT INTO authors (id, name) VALUES (1, 'Alice Sheldon')")
            try $0.execute("INSERT INTO books (id, author_id, title) VALUES (1, 1, 'Houston, Houston')")
        }
        fx.reset()
        return fx
    }

    @Test func givenALoadedRow_whenMovedToAParentInsertedInTheSameCommit_thenItLinksAtomically() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        let book = try #require(try await uow.find(PlainBook.self, id: 1))
        let author = uow.insert(Author(name: "James Tiptree Jr."))
        // Nothing else changes: the link alone makes the update.
        try uow.update(book, linking: \.authorID, to: author)
        try await uow.commit()
        let authorID = try #require(author.id)
        let stored = try await fx.db.read { try $0.scalar("SELECT author_id FROM books WHERE id = 1") }
        #expect(stored == .integer(authorID))
        #expect(
            fx.writes == [
                #"INSERT INTO "authors" ("id", "name") VALUES (?, ?)"#,
                #"UPDATE "books" SET "author_id" = ? WHERE "id" = ? AND "author_id" IS ?"#,
            ])
        // The identity map holds the moved row.
        #expect(try await uow.find(PlainBook.self, id: 1)?.authorID == authorID)
    }

    @Test func givenAMoveWhoseRowChangedElsewhere_whenCommitting_thenNothingLandsNotEvenTheParent() async throws {
        let fx = try await seeded()
        try await fx.db.write { try $0.execute("INSERT INTO authors (id, name) VALUES (2, 'Raccoona')") }
        let uow = UnitOfWork(database: fx.db)
        let book = try #require(try await uow.find(PlainBook.self, id: 1))
        try await fx.db.write { try $0.execute("UPDATE books SET author_id = 2 WHERE id = 1") }
        let author = uow.insert(Author(name: "James Tiptree Jr."))
        try uow.update(book, linking: \.authorID, to: author)
        await #expect(throws: UnitOfWorkError.self) { try await uow.commit() }
        #expect(try fx.count("authors") == 2)
        #expect(author.id == nil)
    }

    @Test func givenAMoveToAHandleFromAnotherUnitOfWork_whenQueued_thenItThrowsAndQueuesNothing() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        let book = try #require(try await uow.find(PlainBook.self, id: 1))
        let foreign = UnitOfWork(database: fx.db).insert(Author(name: "elsewhere"))
        #expect(throws: UnitOfWorkError.self) { try uow.update(book, linking: \.authorID, to: foreign) }
        #expect(uow.pendingChangeCount == 0)
    }

    @Test func givenBulkChildren_whenLinkedToBulkParents_thenEachGetsItsParentsKey() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let authors = uow.insert(contentsOf: (0..<10).map { Author(name: "author \($0)") })
        let books = (0..<1000).map { Book(title: "book \($0)") }
        let rows = try uow.insert(contentsOf: books, linking: \.authorID, to: { authors[$0 % 10] })
        try await uow.commit()
        for (i, book) in rows.values.enumerated() {
            #expect(book.authorID == authors[i % 10].id, "book \(i)")
        }
        let wrong = try await fx.db.read {
            try $0.scalar(
                """
                SELECT count(*) FROM books JOIN authors ON authors.id = books.author_id
                WHERE CAST(substr(books.title, 6) AS INTEGER) % 10 != CAST(substr(authors.name, 8) AS INTEGER)
                """)
        }
        #expect(wrong == .integer(0))
        #expect(try fx.count("books") == 1000)
    }

    @Test func givenBulkChildrenOfOneParent_whenQueued_thenAllLinkToIt() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "one"))
        let rows = try uow.insert(
            contentsOf: [Book(title: "a"), Book(title: "b")], linking: \.authorID, to: author)
        try await uow.commit()
        #expect(rows.values.map(\.authorID) == [author.id, author.id])
    }

    @Test func givenABadParentAmongBulkChildren_whenQueued_thenItThrowsAndQueuesNoneOfThem() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let good = uow.insert(Author(name: "good"))
        let stale = UnitOfWork(database: fx.db).insert(Author(name: "other"))
        let books = (0..<100).map { Book(title: "book \($0)") }
        let error = #expect(throws: UnitOfWorkError.self) {
            try uow.insert(contentsOf: books, linking: \.authorID, to: { $0 == 57 ? stale : good })
        }
        guard case .invalidHandle(let invalid)? = error else { return }
        #expect(invalid.reason == .otherUnitOfWork)
        #expect(uow.pendingChangeCount == 1)
    }
}
