import Docket
import Foundation
import Testing

@Suite struct CancellationTests {
    @Test func givenTasksCancelledMidCommit_whenTheDustSettles_thenNoTransactionIsOpenAndNoCommitIsPartial()
        async throws
    {
        let db = try Database.temporary()
        defer { db.close() }
        try await db.write { try $0.execute(reliabilitySchema) }
        var tasks: [(String, Task<Bool, Never>)] = []
        for t in 0..<40 {
            let task = Task { () -> Bool in
                do {
                    let uow = UnitOfWork(database: db)
                    let author = uow.insert(Author(name: "task \(t)"))
                    for i in 0..<2000 {
                        try uow.insert(Book(title: "task \(t) book \(i)"), linking: \.authorID, to: author)
                    }
                    try await uow.commit()
                    return true
                } catch {
                    return false
                }
            }
            // Cancel from a thread outside the cooperative pool, so the cancellation lands while the
            // commit is being encoded, waiting in the writer's queue, or running.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int.random(in: 0...400))) {
                task.cancel()
            }
            tasks.append(("task \(t)", task))
        }
        var outcomes: [String: Bool] = [:]
        for (name, task) in tasks { outcomes[name] = await task.value }
        #expect(outcomes.count == 40)
        let stillOpen = try await db.writeWithoutTransaction { $0.isInTransaction }
        #expect(!stillOpen)
        let perAuthor = try await db.read { db in
            try db.fetchAll("SELECT a.name, (SELECT count(*) FROM books b WHERE b.author_id = a.id) FROM authors a")
                .map { ($0.values[0].textValue ?? "", $0.values[1].integerValue ?? -1) }
        }
        for (name, books) in perAuthor {
            #expect(books == 2000, "\(name) has \(books) books: a partial commit")
            #expect(outcomes[name] == true, "\(name) was written but its task reported failure")
        }
        let committed = outcomes.values.filter { $0 }.count
        #expect(perAuthor.count == committed)
        #expect(committed < 40, "no task was cancelled before its commit finished: the test proved nothing")
        print(
            "cancellation: \(committed) of 40 commits landed whole, \(40 - committed) were cancelled and left nothing")
        let orphans = try await db.read {
            try $0.scalar("SELECT count(*) FROM books WHERE author_id NOT IN (SELECT id FROM authors)")
        }
        #expect(orphans == .integer(0))
        // The writer keeps serving.
        try await db.write { try $0.execute("INSERT INTO authors (name) VALUES ('after')") }
    }
}
