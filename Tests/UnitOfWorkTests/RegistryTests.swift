import Docket
import Foundation
import Testing

@Suite struct RegistryTests {
    @Test func givenAScope_whenCodeDeepInTheCallStackAsksForCurrent_thenItGetsTheScopesUnitOfWork() async throws {
        let fx = try Fixture()
        func deep() -> UnitOfWork? { UnitOfWork.current }
        #expect(UnitOfWork.current == nil)
        try await withUnitOfWork(fx.db) { uow in
            #expect(deep() === uow)
            deep()?.insert(Author(name: "queued from deep code"))
        }
        #expect(UnitOfWork.current == nil)
        #expect(try fx.count("authors") == 1)
    }

    @Test func givenAScope_whenAChildTaskAsksForCurrent_thenItGetsNone() async throws {
        let fx = try Fixture()
        try await withUnitOfWork(fx.db) { _ in
            async let seenByChild = Task { UnitOfWork.current == nil }.value
            let childSawNone = await seenByChild
            #expect(childSawNone)
            #expect(UnitOfWork.current != nil)
        }
    }

    @Test func givenAScopeWhoseBodyThrows_whenItEnds_thenNothingIsCommitted() async throws {
        let fx = try Fixture()
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await withUnitOfWork(fx.db) { uow in
                uow.insert(Author(name: "never written"))
                throw Abort()
            }
        }
        #expect(try fx.count("authors") == 0)
    }

    @Test func givenCustomScopeKeys_whenScopesNest_thenEachKeyHasItsOwnUnitOfWork() async throws {
        let fx = try Fixture()
        try await withUnitOfWork(fx.db, scope: "request-1") { outer in
            try await withUnitOfWork(fx.db, scope: "request-1") { same in
                #expect(same === outer)
            }
            try await withUnitOfWork(fx.db, scope: "request-2") { other in
                #expect(other !== outer)
                #expect(UnitOfWork.current(scope: "request-2") === other)
                #expect(UnitOfWork.current(scope: "request-1") === outer)
            }
            #expect(UnitOfWork.current(scope: "request-2") == nil)
        }
    }

    @Test func given500ConcurrentTasks_whenEachCommitsItsOwnUnitOfWork_thenAllRowsLandWithZeroErrors() async throws {
        let fx = try Fixture()
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<500 {
                group.addTask {
                    do {
                        try await withUnitOfWork(fx.db) { uow in
                            let author = uow.insert(Author(name: "author \(i)"))
                            try uow.insert(Book(title: "first \(i)"), linking: \.authorID, to: author)
                            try uow.insert(Book(title: "second \(i)"), linking: \.authorID, to: author)
                        }
                        return 0
                    } catch {
                        return 1
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 0)
        #expect(try fx.count("authors") == 500)
        #expect(try fx.count("books") == 1000)
        let orphans = try await fx.db.read {
            try $0.scalar("SELECT count(*) FROM books b LEFT JOIN authors a ON a.id = b.author_id WHERE a.id IS NULL")
        }
        #expect(orphans == .integer(0))
    }

    @Test func givenThreads_whenEachUsesItsThreadsUnitOfWork_thenTheyAreSeparateAndRemovable() throws {
        let fx = try Fixture()
        let group = DispatchGroup()
        let errors = StatementLog()
        for t in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let uow = UnitOfWork.forCurrentThread(fx.db)
                #expect(UnitOfWork.forCurrentThread(fx.db) === uow)
                for i in 0..<25 { uow.insert(Author(name: "thread \(t) author \(i)")) }
                do { try uow.blocking.commit() } catch { errors.lines.withLock { $0.append("\(error)") } }
                uow.insert(Author(name: "discarded"))
                #expect(UnitOfWork.removeForCurrentThread(fx.db) == 1)
                #expect(UnitOfWork.forCurrentThread(fx.db) !== uow)
                UnitOfWork.removeForCurrentThread(fx.db)
            }
        }
        group.wait()
        #expect(errors.lines.withLock { $0 }.isEmpty)
        #expect(try fx.count("authors") == 100)
    }
}
