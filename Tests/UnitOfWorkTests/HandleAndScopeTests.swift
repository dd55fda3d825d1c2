import Docket
import Foundation
import Testing

/// A handle never points at the wrong row, and nested scopes tell the truth (issue 14, parts 2
/// and 3). Every case runs on a real database file.
@Suite struct HandleAndScopeTests {
    func invalidHandle(_ body: () throws -> Void) -> InvalidHandle? {
        do {
            try body()
        } catch UnitOfWorkError.invalidHandle(let invalid) {
            return invalid
        } catch {
            Issue.record("expected invalidHandle, got \(error)")
        }
        return nil
    }

    @Test func givenAHandleDiscardedByRollback_whenLinkedTo_thenItThrowsAndQueuesNothing() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "rolled back"))
        uow.rollback()
        let invalid = invalidHandle { try uow.insert(Book(title: "orphan"), linking: \.authorID, to: author) }
        #expect(invalid?.reason == .rolledBack)
        #expect(invalid?.child == "Book (being queued)")
        #expect(invalid?.role == "parent")
        #expect(invalid?.model == "Author")
        #expect(
            invalid?.description
                == "cannot link Book (being queued): its parent handle (Author) is not a row queued in this unit of "
                + "work: it was discarded by rollback() (or its unit of work was cleared). Nothing was linked; queue "
                + "the parent again in this unit of work, or commit it first.")
        #expect(uow.pendingChangeCount == 0)
        #expect(author.value.name == "rolled back")
        #expect(!author.isCommitted)
    }

    @Test func givenAHandleFromAFailedNestedScope_whenALaterInsertReusesItsRow_thenLinkingThrowsNotMislinks()
        async throws
    {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let kept = uow.insert(Author(name: "kept"))
        struct Abort: Error {}
        var lost: Inserted<Author>?
        #expect(throws: Abort.self) {
            try uow.nested {
                lost = uow.insert(Author(name: "lost"))
                throw Abort()
            }
        }
        // The next insert takes the row number the lost one had.
        let reused = uow.insert(Author(name: "reused"))
        let handle = try #require(lost)
        let invalid = invalidHandle { try uow.insert(Book(title: "orphan"), linking: \.authorID, to: handle) }
        #expect(invalid?.reason == .nestedScopeFailed)
        #expect(handle.value.name == "lost")
        try uow.insert(Book(title: "ok"), linking: \.authorID, to: kept)
        try await uow.commit()
        #expect(!handle.isCommitted)
        #expect(reused.isCommitted && kept.isCommitted)
        #expect(try fx.count("authors") == 2)
        #expect(try fx.count("books") == 1)
    }

    @Test func givenAHandleFromAnotherUnitOfWork_whenLinkedTo_thenItThrowsUnlessThatOneCommitted() async throws {
        let fx = try Fixture()
        let other = UnitOfWork(database: fx.db)
        let foreign = other.insert(Author(name: "elsewhere"))
        let uow = UnitOfWork(database: fx.db)
        let invalid = invalidHandle { try uow.insert(Book(title: "orphan"), linking: \.authorID, to: foreign) }
        #expect(invalid?.reason == .otherUnitOfWork)
        #expect(uow.pendingChangeCount == 0)
        // Once committed, its key is known: linking to it is linking to a real row.
        try await other.commit()
        let book = try uow.insert(Book(title: "linked"), linking: \.authorID, to: foreign)
        try await uow.commit()
        #expect(book.value.authorID == foreign.value.id)
    }

    @Test func givenAChildFromAnotherUnitOfWork_whenLinked_thenItThrowsNamingTheChild() async throws {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        let other = UnitOfWork(database: fx.db)
        let author = uow.insert(Author(name: "a"))
        _ = other.insert(Author(name: "first in other"))
        let foreignChild = other.insert(Book(title: "b"))
        let invalid = invalidHandle { try uow.link(foreignChild, \.authorID, to: author) }
        #expect(invalid?.reason == .otherUnitOfWork)
        #expect(invalid?.role == "child")
        // And a committed child cannot be linked any more: its row is written.
        let child = try uow.insert(Book(title: "c"), linking: \.authorID, to: author)
        try await uow.commit()
        let committed = invalidHandle { try uow.link(child, \.authorID, to: author) }
        #expect(committed?.reason == .committed)
    }

    @Test func givenACommitInsideANestedScopeThatThenFails_whenCommittingAgain_thenNothingIsWrittenTwice()
        async throws
    {
        let fx = try Fixture()
        let uow = UnitOfWork(database: fx.db)
        struct Abort: Error {}
        var committed: Inserted<Author>?
        await #expect(throws: Abort.self) {
            try await uow.nested {
                committed = uow.insert(Author(name: "committed inside"))
                try await uow.commit()
                uow.insert(Author(name: "queued after the commit"))
                throw Abort()
            }
        }
        let handle = try #require(committed)
        #expect(handle.isCommitted)
        #expect(handle.id != nil)
        #expect(uow.pendingChangeCount == 0)
        try await uow.commit()
        let names = try await fx.db.read { try Author.all().fetchAll($0).map(\.name) }
        #expect(names == ["committed inside"])
    }

    @Test func givenACommitInsideAFailedNestedScope_whenTheRowIsChangedBack_thenTheChangeIsStillWritten()
        async throws
    {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute("INSERT INTO authors (id, name) VALUES (1, 'before')") }
        let uow = UnitOfWork(database: fx.db)
        var author = try #require(try await uow.find(Author.self, id: 1))
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await uow.nested {
                var renamed = author
                renamed.name = "after"
                uow.update(renamed)
                try await uow.commit()
                throw Abort()
            }
        }
        // The snapshot is what the inner commit wrote ("after"), so going back to "before" is a change.
        author.name = "before"
        uow.update(author)
        try await uow.commit()
        let name = try await fx.db.read { try $0.scalar("SELECT name FROM authors WHERE id = 1") }
        #expect(name == .text("before"))
    }

    @Test func givenAReusingScopeWhoseBodyThrows_whenTheEnclosingScopeCarriesOn_thenOnlyItsOwnChangesCommit()
        async throws
    {
        let fx = try Fixture()
        struct Abort: Error {}
        try await withUnitOfWork(fx.db) { uow in
            uow.insert(Author(name: "outer"))
            do {
                try await withUnitOfWork(fx.db) { inner in
                    #expect(inner === uow)
                    inner.insert(Author(name: "inner, discarded"))
                    throw Abort()
                }
            } catch is Abort {}
            #expect(uow.pendingChangeCount == 1)
        }
        let names = try await fx.db.read { try Author.all().fetchAll($0).map(\.name) }
        #expect(names == ["outer"])
    }
}
