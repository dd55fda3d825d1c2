import Docket
import Foundation
import Testing

struct Subscriber: Model, Equatable {
    var id: Int64?
    var email: String
    var nickname: String?
}

struct Slot: Model, Equatable {
    var id: Int64?
    var listID: Int64
    var position: Int
    var label: String
    static let columnNaming = ColumnNaming.snakeCase
}

struct Badge: Model, Equatable {
    var id: Int64?
    var code: String
}

/// Unique values that change hands in one commit (issue 14, part 4): swaps and chains succeed;
/// where no temporary value is safe, the commit fails before any SQL runs.
@Suite struct UniqueExchangeTests {
    static let tables = """
        CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, nickname TEXT UNIQUE);
        INSERT INTO subscribers (id, email, nickname) VALUES (1, 'a@x', 'ay'), (2, 'b@x', 'bee'), (3, 'c@x', 'sea');
        CREATE TABLE slots (
            id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, position INTEGER NOT NULL, label TEXT NOT NULL);
        CREATE UNIQUE INDEX slots_by_position ON slots (list_id, position);
        INSERT INTO slots (id, list_id, position, label) VALUES (1, 7, 0, 'first'), (2, 7, 1, 'second');
        CREATE TABLE badges (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE CHECK (length(code) = 3));
        INSERT INTO badges (id, code) VALUES (1, 'abc'), (2, 'xyz');
        """

    func fixture() async throws -> Fixture {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute(Self.tables) }
        fx.reset()
        return fx
    }

    /// Loads rows `first` and `second` of `M` through `uow`, exchanges their `keyPath` values and
    /// queues both updates.
    func queueSwap<M: Model, V>(_ keyPath: WritableKeyPath<M, V>, of first: M.ID, _ second: M.ID, in uow: UnitOfWork)
        async throws
    {
        var a = try #require(try await uow.find(M.self, id: first))
        var b = try #require(try await uow.find(M.self, id: second))
        (a[keyPath: keyPath], b[keyPath: keyPath]) = (b[keyPath: keyPath], a[keyPath: keyPath])
        uow.update(a)
        uow.update(b)
    }

    func emails(_ fx: Fixture) async throws -> [String] {
        try await fx.db.read { try Subscriber.all().order("id").fetchAll($0).map(\.email) }
    }

    @Test func givenTwoRowsSwappingAUniqueColumn_whenCommitting_thenTheSwapLands() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        try await queueSwap(\Subscriber.email, of: 1, 2, in: uow)
        try await uow.commit()
        #expect(try await emails(fx) == ["b@x", "a@x", "c@x"])
        // One row is set aside first (a temporary text: the column is NOT NULL), checked against
        // its loaded value; its own update then writes the final value.
        #expect(
            fx.writes == [
                #"UPDATE "subscribers" SET "email" = ? WHERE "id" = ? AND "email" IS ?"#,
                #"UPDATE "subscribers" SET "email" = ? WHERE "id" = ? AND "email" IS ?"#,
                #"UPDATE "subscribers" SET "email" = ? WHERE "id" = ?"#,
            ])
    }

    @Test func givenAChainOfTakenValues_whenCommitting_thenEachRowWaitsForTheOneGivingItsValueUp() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var a = try #require(try await uow.find(Subscriber.self, id: 1))
        var b = try #require(try await uow.find(Subscriber.self, id: 2))
        var c = try #require(try await uow.find(Subscriber.self, id: 3))
        // A takes B's, B takes C's, C moves to a new value: no cycle, only an order (C, B, A).
        a.email = "b@x"
        b.email = "c@x"
        c.email = "d@x"
        uow.update(a)
        uow.update(b)
        uow.update(c)
        try await uow.commit()
        #expect(try await emails(fx) == ["b@x", "c@x", "d@x"])
        #expect(fx.writes.count == 3)
    }

    @Test func givenAThreeRowCycle_whenCommitting_thenItLands() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var a = try #require(try await uow.find(Subscriber.self, id: 1))
        var b = try #require(try await uow.find(Subscriber.self, id: 2))
        var c = try #require(try await uow.find(Subscriber.self, id: 3))
        (a.email, b.email, c.email) = (b.email, c.email, a.email)
        uow.update(a)
        uow.update(b)
        uow.update(c)
        try await uow.commit()
        #expect(try await emails(fx) == ["b@x", "c@x", "a@x"])
    }

    @Test func givenANullableUniqueColumn_whenSwapped_thenTheRowIsSetAsideAsNull() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        try await queueSwap(\Subscriber.nickname, of: 1, 2, in: uow)
        let plan = try await uow.plan()
        guard case .releaseUnique(_, "nickname", _, .null)? = plan.steps.first else {
            Issue.record("expected a release to NULL first, got \(plan.steps)")
            return
        }
        try await uow.commit()
        let nicknames = try await fx.db.read { try Subscriber.all().order("id").fetchAll($0).map(\.nickname) }
        #expect(nicknames == ["bee", "ay", "sea"])
    }

    @Test func givenACompositeUniqueIndex_whenTwoRowsSwapPositions_thenTheSwapLands() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var first = try #require(try await uow.find(Slot.self, id: 1))
        var second = try #require(try await uow.find(Slot.self, id: 2))
        (first.position, second.position) = (second.position, first.position)
        uow.update(first)
        uow.update(second)
        try await uow.commit()
        let order = try await fx.db.read { try Slot.all().order("position").fetchAll($0).map(\.label) }
        #expect(order == ["second", "first"])
        // The column set aside is one the update changes (position), never the unchanged list_id.
        let lists = try await fx.db.read { try Slot.all().fetchAll($0).map(\.listID) }
        #expect(lists == [7, 7])
        #expect(try fx.integrity() == "ok")
    }

    @Test func givenTwoUniqueColumnsSwappedBetweenTheSameRows_whenCommitting_thenBothSwapsLand() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var a = try #require(try await uow.find(Subscriber.self, id: 1))
        var b = try #require(try await uow.find(Subscriber.self, id: 2))
        (a.email, b.email) = (b.email, a.email)
        (a.nickname, b.nickname) = (b.nickname, a.nickname)
        uow.update(a)
        uow.update(b)
        try await uow.commit()
        let rows = try await fx.db.read { try Subscriber.all().order("id").fetchAll($0) }
        #expect(rows.map(\.email) == ["b@x", "a@x", "c@x"])
        #expect(rows.map(\.nickname) == ["bee", "ay", "sea"])
    }

    @Test func givenASwapAndAnInsertInOneCommit_whenCommitting_thenThePlannerStillOrdersIt() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        try await queueSwap(\Subscriber.email, of: 1, 2, in: uow)
        // A new row takes C's email while C moves away: the insert waits for C's update.
        var c = try #require(try await uow.find(Subscriber.self, id: 3))
        c.email = "moved@x"
        uow.insert(Subscriber(email: "c@x"))
        uow.update(c)
        try await uow.commit()
        #expect(try await emails(fx) == ["b@x", "a@x", "moved@x", "c@x"])
    }

    @Test func givenNoSafeTemporaryValue_whenSwapping_thenItFailsBeforeAnySQLNamingRowsAndIndex() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        try await queueSwap(\Badge.code, of: 1, 2, in: uow)
        fx.reset()
        let error = await #expect(throws: FlushError.self) { try await uow.commit() }
        guard case .uniqueExchange(let rows, let table, let index, let columns, _)? = error else {
            Issue.record("expected uniqueExchange, got \(String(describing: error))")
            return
        }
        #expect(Set(rows) == ["Badge #1 (id 1)", "Badge #2 (id 2)"])
        #expect(table == "badges")
        #expect(index.hasPrefix("sqlite_autoindex_badges"))
        #expect(columns == ["code"])
        #expect("\(error!)".contains("read by a CHECK constraint"))
        #expect(fx.writes.isEmpty)
        let codes = try await fx.db.read { try Badge.all().order("id").fetchAll($0).map(\.code) }
        #expect(codes == ["abc", "xyz"])
    }

    @Test func givenASwapWhoseOtherRowChangedMeanwhile_whenCommitting_thenItIsAStaleWriteAndNothingLands()
        async throws
    {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var a = try #require(try await uow.find(Subscriber.self, id: 1))
        var b = try #require(try await uow.find(Subscriber.self, id: 2))
        try await fx.db.write { try $0.execute("UPDATE subscribers SET email = 'elsewhere@x' WHERE id = 2") }
        (a.email, b.email) = (b.email, a.email)
        uow.update(a)
        uow.update(b)
        await #expect(throws: UnitOfWorkError.self) { try await uow.commit() }
        #expect(try await emails(fx) == ["a@x", "elsewhere@x", "c@x"])
    }
}
