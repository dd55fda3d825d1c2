import Docket
import Foundation
import Testing

@Suite struct TransactionTests {
    func seeded() async throws -> Fixture {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("INSERT INTO authors (id, name) VALUES (1, 'Ursula K. Le Guin')")
            try $0.execute(
                "INSERT INTO books (id, author_id, title, isbn, pages) VALUES (1, 1, 'A Wizard of Earthsea', '978-0547773742', 183)"
            )
        }
        fx.reset()
        return fx
    }

    @Test func givenAnUpdateWithNoNetChange_whenCommitting_thenNoSQLRunsAtAll() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        var book = try #require(try await uow.find(Book.self, id: 1))
        book.pages += 1
        book.pages -= 1
        uow.update(book)
        try await uow.commit()
        #expect(fx.all.isEmpty)
        #expect(uow.pendingChangeCount == 0)
    }

    @Test func givenOneChangedColumn_whenCommitting_thenOnlyThatColumnIsWritten() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        var book = try #require(try await uow.find(Book.self, id: 1))
        book.title = "A Wizard of Earthsea (50th anniversary)"
        uow.update(book)
        try await uow.commit()
        #expect(
            fx.writes == ["UPDATE \"books\" SET \"title\" = ?, \"version\" = ? WHERE \"id\" = ? AND \"version\" = ?"])
        let stored = try await fx.db.read { try Book.find(1, in: $0) }
        #expect(stored?.title == "A Wizard of Earthsea (50th anniversary)")
        #expect(stored?.version == 1)
        #expect(stored?.pages == 183)
    }

    @Test func givenAChangeInsideANestedValue_whenCommitting_thenItIsDetectedAndWritten() async throws {
        let fx = try Fixture()
        let id = UUID()
        try await fx.db.write {
            try $0.execute("INSERT INTO tags (id, label, meta) VALUES (?, 'sf', '{\"colors\":[\"blue\"]}')", [id])
        }
        fx.reset()
        let uow = UnitOfWork(database: fx.db)
        var tag = try #require(try await uow.find(Tag.self, id: id))
        tag.meta.colors.append("silver")
        uow.update(tag)
        try await uow.commit()
        #expect(fx.writes == ["UPDATE \"tags\" SET \"meta\" = ? WHERE \"id\" = ? AND \"meta\" IS ?"])
        let stored = try await fx.db.read { try Tag.find(id, in: $0) }
        #expect(stored?.meta.colors == ["blue", "silver"])
    }

    @Test func givenTwoUnitsOfWorkUpdatingOneVersionedRow_whenBothCommit_thenTheSecondFailsNamingTheRow() async throws {
        let fx = try await seeded()
        let first = UnitOfWork(database: fx.db)
        let second = UnitOfWork(database: fx.db)
        var a = try #require(try await first.find(Book.self, id: 1))
        var b = try #require(try await second.find(Book.self, id: 1))
        a.pages = 200
        b.pages = 300
        first.update(a)
        second.update(b)
        try await first.commit()
        let error = await #expect(throws: UnitOfWorkError.self) { try await second.commit() }
        #expect(
            "\(error!)"
                == "stale write: books row 1 (Book #1 (id 1)) is no longer at version 0 (it is at 1): another commit "
                + "changed or deleted it since it was loaded. Nothing was written; reload it and apply the change "
                + "again (withUnitOfWork(db, retry: …) does that).")
        guard case .staleWrite(let stale)? = error else { return }
        #expect(stale.table == "books")
        #expect(stale.key == .integer(1))
        #expect(stale.columns == ["version"])
        #expect(stale.reason == .versionMoved(expected: 0, found: 1))
        let stored = try await fx.db.read { try Book.find(1, in: $0) }
        #expect(stored?.pages == 200)
        #expect(stored?.version == 1)
        #expect(second.pendingChangeCount == 1)
        // Reload and retry: the conflict resolves.
        var fresh = try #require(try await second.find(Book.self, id: 1, refresh: true))
        fresh.pages = 300
        second.update(fresh)
        try await second.commit()
        let final = try await fx.db.read { try Book.find(1, in: $0) }
        #expect(final?.pages == 300)
        #expect(final?.version == 2)
    }

    @Test func givenNoVersionColumn_whenTwoUnitsOfWorkChangeDifferentColumns_thenBothChangesSurvive() async throws {
        let fx = try await seeded()
        let first = UnitOfWork(database: fx.db)
        let second = UnitOfWork(database: fx.db)
        var a = try #require(try await first.find(PlainBook.self, id: 1))
        var b = try #require(try await second.find(PlainBook.self, id: 1))
        a.title = "Earthsea"
        b.pages = 999
        first.update(a)
        second.update(b)
        try await first.commit()
        try await second.commit()
        let stored = try await fx.db.read { try PlainBook.find(1, in: $0) }
        #expect(stored?.title == "Earthsea")
        #expect(stored?.pages == 999)
    }

    @Test func givenAFailingCommit_whenItFails_thenTheDatabaseAndQueueAreIntactAndARetrySucceeds() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "Becky Chambers"))
        let book = try uow.insert(
            Book(title: "The Long Way to a Small, Angry Planet", isbn: "978-0547773742"), linking: \.authorID,
            to: author)
        let error = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        #expect(error?.constraint?.kind == .unique)
        #expect(error?.constraint?.columns == ["isbn"])
        #expect("\(error!)".contains("inserting Book #2 into books"))
        #expect(try fx.count("authors") == 1)
        #expect(try fx.count("books") == 1)
        #expect(uow.pendingChangeCount == 2)
        #expect(author.value.id == nil)
        #expect(book.value.authorID == nil)
        #expect(try fx.integrity() == "ok")

        // Fix the cause (the old edition goes) and retry the same queue.
        try await fx.db.write { try $0.execute("DELETE FROM books WHERE id = 1") }
        try await uow.commit()
        #expect(author.value.id != nil)
        #expect(book.value.authorID == author.value.id)
        #expect(try fx.count("books") == 1)
        #expect(uow.pendingChangeCount == 0)
    }

    @Test func givenAChildOfAMissingParent_whenCommitting_thenTheForeignKeyErrorNamesTheChange() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Book(authorID: 42, title: "Orphan"))
        let error = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        #expect(error?.constraint?.kind == .foreignKey)
        #expect("\(error!)".contains("Book #1 in books has author_id = 42, but authors has no such row"))
        #expect(try fx.count("books") == 1)
    }

    @Test func givenNotNullAndCheckViolations_whenCommitting_thenErrorsNameTheConstraintAndTheChange() async throws {
        let fx = try await seeded()
        try await fx.db.write {
            try $0.execute("CREATE TABLE shelves (id INTEGER PRIMARY KEY, name TEXT, size INTEGER CHECK (size > 0))")
        }
        struct Shelf: Model {
            var id: Int64?
            var name: String?
            var size: Int
            static var tableName: String { "shelves" }
        }
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Shelf(name: "fiction", size: 0))
        let check = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        #expect(check?.constraint?.kind == .check)
        #expect("\(check!)".contains("inserting Shelf #1 into shelves"))
        uow.rollback()

        uow.insert(Author(id: 5, name: "ok"))
        try await fx.db.write { try $0.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)") }
        struct Note: Model {
            var id: Int64?
            var body: String?
        }
        uow.insert(Note(body: nil))
        let notNull = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        #expect(notNull?.constraint?.kind == .notNull)
        #expect(notNull?.constraint?.columns == ["body"])
        #expect("\(notNull!)".contains("inserting Note #2 into notes"))
        #expect(try fx.count("authors") == 1)
    }

    @Test func givenANestedScopeThatThrows_whenItEnds_thenOnlyItsChangesAreRolledBack() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Author(name: "kept"))
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try uow.nested {
                uow.insert(Author(name: "dropped"))
                throw Abort()
            }
        }
        uow.nested { _ = uow.insert(Author(name: "also kept")) }
        #expect(uow.pendingChangeCount == 2)
        try await uow.commit()
        let names = try await fx.db.read { try Author.all().order("id").fetchAll($0).map(\.name) }
        #expect(names == ["kept", "also kept"])
    }

    @Test func givenALoadedRow_whenLoadedAgain_thenTheIdentityMapValueComesBackUnlessRefreshed() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        var book = try #require(try await uow.find(Book.self, id: 1))
        book.pages = 1
        uow.update(book)
        try await fx.db.write { try $0.execute("UPDATE books SET title = 'changed elsewhere' WHERE id = 1") }
        let again = try #require(try await uow.find(Book.self, id: 1))
        #expect(again.pages == 1)
        #expect(again.title == "A Wizard of Earthsea")
        let viaQuery = try await uow.fetch(Book.all())
        #expect(viaQuery.first?.pages == 1)
        let refreshed = try #require(try await uow.find(Book.self, id: 1, refresh: true))
        #expect(refreshed.title == "changed elsewhere")
    }

    @Test func givenRowsFetchedInBulk_whenFetchedAgain_thenTheIdentityMapAnswersUnlessRefreshed() async throws {
        let fx = try await seeded()
        try await fx.db.write {
            try $0.execute(
                "INSERT INTO books (id, author_id, title, isbn, pages) VALUES (2, 1, 'The Tombs of Atuan', '978-0689845369', 180)"
            )
        }
        let uow = UnitOfWork(database: fx.db)
        // The first fetch fills an empty identity map in one step; the second goes row by row.
        var books = try await uow.fetch(Book.all().order("id"))
        #expect(books.count == 2)
        books[1].pages = 4242
        uow.update(books[1])
        try await fx.db.write { try $0.execute("UPDATE books SET title = 'changed elsewhere'") }
        let again = try await uow.fetch(Book.all().order("id DESC"))
        #expect(again.reversed().map(\.pages) == books.map(\.pages))
        #expect(again.allSatisfy { $0.title != "changed elsewhere" })
        let refreshed = try await uow.fetch(Book.all().order("id"), refresh: true)
        #expect(refreshed.allSatisfy { $0.title == "changed elsewhere" })
        #expect(refreshed[1].pages != 4242)
        // The queued update still commits the value it was given.
        try await uow.commit()
        let id = books[1].id
        let stored = try await fx.db.read { try Book.find(id, in: $0) }
        #expect(stored?.pages == 4242)
    }

    @Test func givenUpserts_whenCommitting_thenConflictsUpdateOrAreLeftAlone() async throws {
        let fx = try await seeded()
        let uow = UnitOfWork(database: fx.db)
        uow.upsert(
            Book(authorID: 1, title: "Earthsea (upserted)", isbn: "978-0547773742", pages: 200), onConflict: ["isbn"])
        let created = uow.upsert(
            Book(authorID: 1, title: "Tehanu", isbn: "978-0689315954", pages: 226), onConflict: ["isbn"])
        uow.upsert(Author(id: 1, name: "ignored"), doNothing: true)
        try await uow.commit()
        let books = try await fx.db.read { try Book.all().order("id").fetchAll($0) }
        #expect(books.map(\.title) == ["Earthsea (upserted)", "Tehanu"])
        #expect(books[0].pages == 200)
        #expect(created.value.id == books[1].id)
        let author = try await fx.db.read { try Author.find(1, in: $0) }
        #expect(author?.name == "Ursula K. Le Guin")
        #expect(fx.writes.contains { $0.contains("ON CONFLICT (\"isbn\") DO UPDATE SET") })
        #expect(fx.writes.contains { $0.contains("ON CONFLICT (\"id\") DO NOTHING") })
    }
}
