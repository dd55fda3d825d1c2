import Docket
import Foundation
import Testing

/// The identity map's key tables: dense keys (an array) and sparse ones (a dictionary) must answer
/// the same way.
@Suite struct IdentityMapTests {
    static let denseIDs: [Int64] = Array(1...300)
    static let sparseIDs: [Int64] = [-7, 1, 5, 1_000_000_000_000, Int64.max]

    @Test(arguments: [denseIDs, sparseIDs])
    func givenRowsFetchedInBulk_whenLoadedAgainAndChanged_thenTheMapAnswersForEveryKey(ids: [Int64]) async throws {
        let fx = try Fixture()
        let setup = UnitOfWork(database: fx.db)
        setup.insert(contentsOf: ids.map { Author(id: $0, name: "author \($0)") })
        try await setup.commit()

        let uow = UnitOfWork(database: fx.db)
        let fetched = try await uow.fetch(Author.all().order("id"))
        #expect(fetched.map(\.id) == ids.sorted().map { $0 })
        // Another commit renames every author but the first (which this unit of work renames below:
        // renaming it elsewhere too would make that update a stale write).
        let firstID = ids.min()!
        try await fx.db.write {
            try $0.execute("UPDATE authors SET name = 'changed elsewhere' WHERE id != ?", [firstID])
        }

        // Every key is found in the map: the values as loaded come back, not the database's.
        for id in ids {
            let again = try await uow.find(Author.self, id: id)
            #expect(again?.name == "author \(id)", "id \(id)")
        }
        #expect(try await uow.find(Author.self, id: 2_000_000) == nil)

        // Update one, delete another (deletes run first): the update writes only its changed
        // column, found by comparing with the snapshot.
        var first = try #require(fetched.first)
        first.name = "renamed"
        uow.update(first)
        uow.delete(fetched.last!)
        fx.reset()
        try await uow.commit()
        #expect(
            fx.writes == [
                #"DELETE FROM "authors" WHERE "id" = ?"#,
                #"UPDATE "authors" SET "name" = ? WHERE "id" = ? AND "name" IS ?"#,
            ])
        #expect(try await uow.find(Author.self, id: first.id!)?.name == "renamed")
        #expect(try fx.count("authors") == Int64(ids.count - 1))
    }

    @Test func givenAQueryReturningARowTwice_whenFetched_thenBothCopiesAreTheSameIdentity() async throws {
        let fx = try Fixture()
        let setup = UnitOfWork(database: fx.db)
        setup.insert(contentsOf: [Author(id: 1, name: "a"), Author(id: 2, name: "b")])
        try await setup.commit()

        let uow = UnitOfWork(database: fx.db)
        let rows = try await uow.fetch(Author.all().filter("id IN (1, 2)"))
        #expect(rows.count == 2)
        let twice = try await fx.db.read {
            try Author.fetchAll($0, sql: "SELECT * FROM authors UNION ALL SELECT * FROM authors ORDER BY id")
        }
        #expect(twice.map(\.id) == [1, 1, 2, 2])
        var changed = rows[0]
        changed.name = "queued"
        uow.update(changed)
        let again = try await uow.fetch(Author.all().order("id"))
        #expect(again.map(\.name) == ["queued", "b"])
    }
}
