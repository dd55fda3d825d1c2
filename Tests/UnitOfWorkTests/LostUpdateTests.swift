import Docket
import Foundation
import Testing

/// A counter without a version column: lost-update protection comes from compare-and-set.
struct Counter: Model, Equatable {
    var id: Int64?
    var value: Int
    var note: String?
}

/// The same table, with last-write-wins chosen explicitly.
struct LastWriteCounter: Model, Equatable {
    var id: Int64?
    var value: Int
    var note: String?
    static let tableName = "counters"
    static let lastWriteWins = true
}

/// A row whose date was written by another program, in SQLite's own `datetime()` format.
struct Meeting: Model, Equatable {
    var id: Int64?
    var at: Date
}

/// Lost updates are impossible with the defaults (issue 14, part 1): compare-and-set on the changed
/// columns of a loaded row, retries, and the writer form of a unit of work.
@Suite struct LostUpdateTests {
    static let counters = """
        CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL, note TEXT);
        INSERT INTO counters (id, value, note) VALUES (1, 0, NULL);
        CREATE TABLE meetings (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
        INSERT INTO meetings (id, at) VALUES (1, '2026-12-01 10:00:00');
        """

    func fixture() async throws -> Fixture {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute(Self.counters) }
        fx.reset()
        return fx
    }

    func value(_ fx: Fixture) async throws -> Int64 {
        try await fx.db.read { try $0.scalar("SELECT value FROM counters WHERE id = 1").integerValue ?? -1 }
    }

    @Test func givenAnUnversionedLoadedRow_whenUpdated_thenTheWhereClauseComparesTheChangedColumns() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var counter = try #require(try await uow.find(Counter.self, id: 1))
        counter.value += 1
        uow.update(counter)
        try await uow.commit()
        #expect(fx.writes == [#"UPDATE "counters" SET "value" = ? WHERE "id" = ? AND "value" IS ?"#])
        #expect(try await value(fx) == 1)
    }

    @Test func givenAnotherCommitChangedTheColumn_whenCommitting_thenItIsAStaleWriteAndNothingLands() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var counter = try #require(try await uow.find(Counter.self, id: 1))
        try await fx.db.write { try $0.execute("UPDATE counters SET value = 41 WHERE id = 1") }
        counter.value += 1
        uow.update(counter)
        uow.insert(Author(name: "queued in the same commit"))
        let error = await #expect(throws: UnitOfWorkError.self) { try await uow.commit() }
        guard case .staleWrite(let stale)? = error else {
            Issue.record("expected a stale write, got \(String(describing: error))")
            return
        }
        #expect(stale.table == "counters")
        #expect(stale.key == .integer(1))
        #expect(stale.columns == ["value"])
        #expect(stale.loaded == [.integer(0)])
        #expect(stale.current == [.integer(41)])
        #expect(stale.reason == .columnsChanged)
        #expect(
            "\(stale)"
                == "stale write: counters row 1 (Counter #1 (id 1)): another commit changed value (loaded 0, now 41) "
                + "since it was loaded. Nothing was written; reload it and apply the change again "
                + "(withUnitOfWork(db, retry: …) does that).")
        #expect(try await value(fx) == 41)
        #expect(try fx.count("authors") == 0)
        #expect(uow.pendingChangeCount == 2)
    }

    @Test func givenALoadedNull_whenAnotherCommitFillsItAndThisOneToo_thenNullIsComparedWithIs() async throws {
        let fx = try await fixture()
        let first = UnitOfWork(database: fx.db)
        let second = UnitOfWork(database: fx.db)
        var a = try #require(try await first.find(Counter.self, id: 1))
        var b = try #require(try await second.find(Counter.self, id: 1))
        a.note = "first"
        b.note = "second"
        first.update(a)
        second.update(b)
        // The loaded NULL still holds: `note IS NULL` matches (`note = NULL` never would).
        try await first.commit()
        await #expect(throws: UnitOfWorkError.self) { try await second.commit() }
        let note = try await fx.db.read { try $0.scalar("SELECT note FROM counters WHERE id = 1") }
        #expect(note == .text("first"))
    }

    @Test func givenConcurrentChangesToDifferentColumns_whenBothCommit_thenBothSurvive() async throws {
        let fx = try await fixture()
        let first = UnitOfWork(database: fx.db)
        let second = UnitOfWork(database: fx.db)
        var a = try #require(try await first.find(Counter.self, id: 1))
        var b = try #require(try await second.find(Counter.self, id: 1))
        a.value = 5
        b.note = "noted"
        first.update(a)
        second.update(b)
        try await first.commit()
        try await second.commit()
        let row = try await fx.db.read { try Counter.find(1, in: $0) }
        #expect(row == Counter(id: 1, value: 5, note: "noted"))
    }

    @Test func givenAModelThatChoseLastWriteWins_whenTwoCommitsRace_thenTheLastOneOverwrites() async throws {
        let fx = try await fixture()
        let first = UnitOfWork(database: fx.db)
        let second = UnitOfWork(database: fx.db)
        var a = try #require(try await first.find(LastWriteCounter.self, id: 1))
        var b = try #require(try await second.find(LastWriteCounter.self, id: 1))
        a.value = 10
        b.value = 20
        first.update(a)
        second.update(b)
        try await first.commit()
        try await second.commit()
        #expect(fx.writes.last == #"UPDATE "counters" SET "value" = ? WHERE "id" = ?"#)
        #expect(try await value(fx) == 20)
    }

    @Test func givenARowUpdatedWithoutBeingLoaded_whenCommitting_thenEveryColumnIsWrittenByKey() async throws {
        let fx = try await fixture()
        try await fx.db.write { try $0.execute("UPDATE counters SET value = 7 WHERE id = 1") }
        fx.reset()
        let uow = UnitOfWork(database: fx.db)
        uow.update(Counter(id: 1, value: 8, note: nil))
        try await uow.commit()
        // No snapshot to compare with: the caller states the whole row.
        #expect(fx.writes == [#"UPDATE "counters" SET "value" = ?, "note" = ? WHERE "id" = ?"#])
        #expect(try await value(fx) == 8)
    }

    @Test func givenAnUnloadedAndALoadedRowWritingTheSameColumns_whenCommitted_thenEachGetsItsOwnStatement()
        async throws
    {
        let fx = try await fixture()
        try await fx.db.write { try $0.execute("INSERT INTO counters (id, value, note) VALUES (2, 0, NULL)") }
        fx.reset()
        let uow = UnitOfWork(database: fx.db)
        // Not loaded: written by key. Loaded, with every column changed: the same columns, compared.
        uow.update(Counter(id: 2, value: 5, note: "unloaded"))
        var loaded = try #require(try await uow.find(Counter.self, id: 1))
        loaded.value = 7
        loaded.note = "loaded"
        uow.update(loaded)
        try await uow.commit()
        #expect(
            fx.writes == [
                #"UPDATE "counters" SET "value" = ?, "note" = ? WHERE "id" = ?"#,
                #"UPDATE "counters" SET "value" = ?, "note" = ? WHERE "id" = ? AND "value" IS ? AND "note" IS ?"#,
            ])
        let rows = try await fx.db.read { try Counter.all().order("id").fetchAll($0) }
        #expect(rows == [Counter(id: 1, value: 7, note: "loaded"), Counter(id: 2, value: 5, note: "unloaded")])
    }

    @Test func givenAColumnStoredInAnotherForm_whenChanged_thenTheUpdateLandsWithoutAFalseConflict() async throws {
        let fx = try await fixture()
        let uow = UnitOfWork(database: fx.db)
        var meeting = try #require(try await uow.find(Meeting.self, id: 1))
        meeting.at = meeting.at.addingTimeInterval(3600)
        uow.update(meeting)
        try await uow.commit()
        let stored = try await fx.db.read { try $0.scalar("SELECT at FROM meetings WHERE id = 1") }
        #expect(stored == .text("2026-12-01T11:00:00.000Z"))

        // A real change by another program is still a conflict, whatever form it is stored in.
        let late = UnitOfWork(database: fx.db)
        var again = try #require(try await late.find(Meeting.self, id: 1))
        try await fx.db.write { try $0.execute("UPDATE meetings SET at = '2026-12-24 09:00:00' WHERE id = 1") }
        again.at = again.at.addingTimeInterval(60)
        late.update(again)
        let error = await #expect(throws: UnitOfWorkError.self) { try await late.commit() }
        guard case .staleWrite(let stale)? = error else { return }
        #expect(stale.columns == ["at"])
        #expect(stale.current == [.text("2026-12-24 09:00:00")])
    }

    @Test func givenEightTasksIncrementingNaturally_whenTheyRace_thenEveryIncrementLandsOrIsReported() async throws {
        let fx = try await fixture()
        let results = try await withThrowingTaskGroup(of: (landed: Int, stale: Int).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var (landed, stale) = (0, 0)
                    for _ in 0..<100 {
                        do {
                            try await withUnitOfWork(fx.db) { uow in
                                var counter = try await uow.find(Counter.self, id: 1)!
                                counter.value += 1
                                uow.update(counter)
                            }
                            landed += 1
                        } catch UnitOfWorkError.staleWrite {
                            stale += 1
                        }
                    }
                    return (landed, stale)
                }
            }
            return try await group.reduce(into: [(landed: Int, stale: Int)]()) { $0.append($1) }
        }
        let landed = results.map(\.landed).reduce(0, +)
        #expect(landed + results.map(\.stale).reduce(0, +) == 800)
        #expect(try await value(fx) == Int64(landed))
    }

    @Test func givenTheRetryArgument_whenEightTasksIncrement_thenTheCountIsExact() async throws {
        let fx = try await fixture()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 {
                        try await withUnitOfWork(fx.db, retry: .conflicts(attempts: 1000)) { uow in
                            var counter = try await uow.find(Counter.self, id: 1)!
                            counter.value += 1
                            uow.update(counter)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await value(fx) == 400)
    }

    @Test func givenAConflictOnTheFirstAttempt_whenRetrying_thenTheBodyRunsAgainAndTheRetryIsCounted() async throws {
        let fx = try await fixture()
        let attempts = LockedLines()
        try await withUnitOfWork(fx.db, retry: .conflicts(attempts: 3)) { uow in
            var counter = try await uow.find(Counter.self, id: 1)!
            let attempt = attempts.withLock { lines -> Int in
                lines.append("attempt")
                return lines.count
            }
            if attempt == 1 {
                // Another commit slips in between this attempt's read and its commit.
                try await fx.db.write { try $0.execute("UPDATE counters SET value = value + 100 WHERE id = 1") }
            }
            counter.value += 1
            uow.update(counter)
        }
        #expect(attempts.withLock { $0.count } == 2)
        #expect(fx.db.retryCount == 1)
        #expect(try await value(fx) == 101)
    }

    @Test func givenAConflictOnEveryAttempt_whenTheAttemptsRunOut_thenTheStaleWriteIsThrown() async throws {
        let fx = try await fixture()
        let error = await #expect(throws: UnitOfWorkError.self) {
            try await withUnitOfWork(fx.db, retry: .conflicts(attempts: 3, baseDelay: .microseconds(10))) { uow in
                var counter = try await uow.find(Counter.self, id: 1)!
                try await fx.db.write { try $0.execute("UPDATE counters SET value = value + 100 WHERE id = 1") }
                counter.value += 1
                uow.update(counter)
            }
        }
        guard case .staleWrite? = error else {
            Issue.record("expected a stale write, got \(String(describing: error))")
            return
        }
        #expect(fx.db.retryCount == 2)
        #expect(try await value(fx) == 300)
    }

    @Test func givenOtherErrors_whenRetrying_thenTheyAreNotRetried() async throws {
        let fx = try await fixture()
        struct Unrelated: Error {}
        let runs = LockedLines()
        await #expect(throws: Unrelated.self) {
            try await withUnitOfWork(fx.db, retry: .conflicts(attempts: 5)) { _ in
                runs.withLock { $0.append("run") }
                throw Unrelated()
            }
        }
        #expect(runs.withLock { $0.count } == 1)
        #expect(fx.db.retryCount == 0)
    }

    @Test func given64TasksUsingTheWriterForm_whenIncrementing_thenNoneConflictsAndTheCountIsExact() async throws {
        let fx = try await fixture()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    for _ in 0..<20 {
                        try await fx.db.writeUnitOfWork { uow in
                            var counter = try uow.blocking.find(Counter.self, id: 1)!
                            counter.value += 1
                            uow.update(counter)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await value(fx) == 64 * 20)
        #expect(fx.db.retryCount == 0)
    }

    @Test func givenTheWriterForm_whenItQueuesLinkedInserts_thenTheyAreFlushedInThePlannersOrder() async throws {
        let fx = try await fixture()
        let bookID = try await fx.db.writeUnitOfWork { uow -> Int64? in
            let book = try uow.insert(Book(title: "Solaris"), linking: \.authorID, to: uow.insert(Author(name: "Lem")))
            try uow.blocking.commit()
            return book.value.id
        }
        #expect(bookID != nil)
        let joined = try await fx.db.read {
            try $0.scalar("SELECT authors.name FROM books JOIN authors ON authors.id = books.author_id")
        }
        #expect(joined == .text("Lem"))
    }

    @Test func givenTheWriterFormWhoseBodyThrows_whenItFails_thenNothingItQueuedLands() async throws {
        let fx = try await fixture()
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await fx.db.writeUnitOfWork { uow in
                var counter = try uow.blocking.find(Counter.self, id: 1)!
                counter.value = 99
                uow.update(counter)
                try uow.blocking.commit()
                throw Abort()
            }
        }
        #expect(try await value(fx) == 0)
    }
}
