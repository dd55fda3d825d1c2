import Docket
import Foundation
import Synchronization
import Testing

/// A person whose nickname is often nil, and whose `encode(to:)` leaves the key out when it is: the
/// `nickname` column is learned only from a value that has one. Used by this suite alone, so the
/// type's shared column layout starts empty here.
private struct Member: Model, Equatable {
    var id: Int64?
    var name: String
    var nickname: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        if let nickname { try container.encode(nickname, forKey: .nickname) }
    }
}

/// A one-way flag shared between a test and the jobs it holds.
private final class Signal: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .sequentiallyConsistent) }
    var isRaised: Bool { raised.load(ordering: .sequentiallyConsistent) }
}

private struct Club: Model, Equatable {
    var id: Int64?
    var name: String
}

private struct Seat: Model, Equatable {
    var id: Int64?
    var clubID: Int64
    var label: String
    static let columnNaming = ColumnNaming.snakeCase
}

/// The writer memoizes per connection what small commits would otherwise recompute every time: an
/// encoder per model type, and the insert order of each combination of tables. These tests show
/// the memos follow what changes under them: the shared column layout, and the schema.
@Suite struct WriterMemoTests {
    /// `clubs` and `seats`, with or without the foreign key `seats.club_id → clubs`.
    static func clubsAndSeats(foreignKey: Bool) -> String {
        """
        CREATE TABLE clubs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE seats (
            id INTEGER PRIMARY KEY, club_id INTEGER NOT NULL\(foreignKey ? " REFERENCES clubs(id)" : ""),
            label TEXT NOT NULL);
        """
    }

    /// The migration that adds the foreign key `seats.club_id → clubs` (SQLite rebuilds the table).
    static let addSeatsForeignKey = """
        CREATE TABLE seats_new (
            id INTEGER PRIMARY KEY, club_id INTEGER NOT NULL REFERENCES clubs(id), label TEXT NOT NULL);
        INSERT INTO seats_new SELECT * FROM seats;
        DROP TABLE seats;
        ALTER TABLE seats_new RENAME TO seats;
        """

    /// Commits a seat queued before its club, both with the key `id`.
    static func commitSeatThenClub(_ fx: Fixture, id: Int64, label: String, club: String) async throws {
        let uow = UnitOfWork(database: fx.db)
        uow.insert(Seat(id: id, clubID: id, label: label))
        uow.insert(Club(id: id, name: club))
        try await uow.commit()
    }

    static func foreignKeyViolations(_ fx: Fixture) async throws -> Int {
        try await fx.db.read { try $0.fetchAll("PRAGMA foreign_key_check").count }
    }

    @Test func givenAColumnLearnedOutsideTheWritersEncoder_whenALaterBulkInsertUsesIt_thenEveryRowIsStored()
        async throws
    {
        let fx = try Fixture()
        try await fx.db.write {
            try $0.execute("CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL, nickname TEXT)")
        }
        // 1. The writer's encoder for Member is made, and sees no nickname.
        let first = UnitOfWork(database: fx.db)
        first.insert(Member(name: "Ada"))
        try await first.commit()
        // 2. An update goes through the no-op check on the caller's side, whose encoder learns
        //    `nickname` into the type's shared layout; the writer's encoder has not seen it.
        let second = UnitOfWork(database: fx.db)
        var ada = try #require(try await second.find(Member.self, id: 1))
        ada.nickname = "Countess"
        second.update(ada)
        try await second.commit()
        // 3. A bulk insert whose first row has no nickname and whose second has one: the writer's
        //    encoder must bind the second row's nickname to its column.
        let third = UnitOfWork(database: fx.db)
        third.insert(contentsOf: [Member(name: "Grace"), Member(name: "Katherine", nickname: "Kat")])
        try await third.commit()

        let stored = try await fx.db.read { try Member.all().order("id").fetchAll($0) }
        #expect(stored.map(\.nickname) == ["Countess", nil, "Kat"])
        #expect(stored.map(\.name) == ["Ada", "Grace", "Katherine"])
    }

    @Test func givenAForeignKeyAddedAfterACommit_whenTheSameTablesAreInsertedAgain_thenTheParentGoesFirst()
        async throws
    {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute(Self.clubsAndSeats(foreignKey: false)) }
        // Without a foreign key the two tables are unordered: rows keep queue order, seat first.
        try await Self.commitSeatThenClub(fx, id: 1, label: "A1", club: "Chess")
        #expect(fx.writes.map { String($0.prefix(19)) } == ["INSERT INTO \"seats\"", "INSERT INTO \"clubs\""])

        // A migration adds the foreign key; the memoized order of (Seat, Club) must not outlive it.
        try await fx.db.writeWithoutTransaction {
            try $0.execute(
                "PRAGMA foreign_keys = OFF; BEGIN; \(Self.addSeatsForeignKey) COMMIT; PRAGMA foreign_keys = ON;")
        }
        fx.reset()
        try await Self.commitSeatThenClub(fx, id: 2, label: "B1", club: "Go")

        #expect(fx.writes.map { String($0.prefix(19)) } == ["INSERT INTO \"clubs\"", "INSERT INTO \"seats\""])
        #expect(try fx.count("seats") == 2)
        #expect(try await Self.foreignKeyViolations(fx) == 0)
    }

    @Test func givenAMigrationBetweenTwoCommitsOfOneGroup_whenTheSecondCommitRuns_thenItSeesTheNewForeignKey()
        async throws
    {
        let fx = try Fixture { $0.groupCommit = GroupCommit(maximumJobs: 64, maximumDuration: .seconds(30)) }
        try await fx.db.write { try $0.execute(Self.clubsAndSeats(foreignKey: false)) }
        // A first job holds the writer while three more queue behind it, in this order, so that all
        // four share one transaction:
        //   1. a unit of work (Seat, Club): it reads the schema version, and its insert order
        //      (no foreign key: queue order) is memoized;
        //   2. a plain write that adds the foreign key seats.club_id → clubs;
        //   3. a unit of work queuing a seat before its club: it must read the schema again and
        //      insert the club first, or the seat breaks the new foreign key.
        let holding = Signal()
        let release = Signal()
        fx.reset()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await fx.db.write { _ in
                    holding.raise()
                    while !release.isRaised { usleep(1000) }
                }
            }
            while !holding.isRaised { try await Task.sleep(for: .milliseconds(1)) }
            group.addTask { try await Self.commitSeatThenClub(fx, id: 1, label: "A1", club: "Chess") }
            try await Task.sleep(for: .milliseconds(100))
            group.addTask { try await fx.db.write { try $0.execute(Self.addSeatsForeignKey) } }
            try await Task.sleep(for: .milliseconds(100))
            group.addTask { try await Self.commitSeatThenClub(fx, id: 2, label: "B1", club: "Go") }
            try await Task.sleep(for: .milliseconds(100))
            release.raise()
            try await group.waitForAll()
        }

        #expect(fx.all.filter { $0 == "BEGIN IMMEDIATE" }.count == 1)
        let inserts = fx.writes.filter {
            $0.hasPrefix("INSERT INTO \"seats\"") || $0.hasPrefix("INSERT INTO \"clubs\"")
        }
        #expect(
            inserts.map { String($0.prefix(19)) } == [
                "INSERT INTO \"seats\"", "INSERT INTO \"clubs\"", "INSERT INTO \"clubs\"", "INSERT INTO \"seats\"",
            ])
        #expect(try fx.count("seats") == 2)
        #expect(try await Self.foreignKeyViolations(fx) == 0)
    }

    @Test func givenABlockingCommitInsideAWrite_whenTheWriteCommits_thenTheUnitOfWorkLandsWithIt() throws {
        let fx = try Fixture()
        let id = try fx.db.blocking.write { _ in
            let uow = UnitOfWork(database: fx.db)
            let author = uow.insert(Author(name: "Stanisław Lem"))
            try uow.blocking.commit()
            return author.value.id
        }
        #expect(id != nil)
        #expect(try fx.count("authors") == 1)
    }

    @Test func givenABlockingCommitInsideAWriteThatThenThrows_whenTheWriteFails_thenNothingLands() throws {
        let fx = try Fixture()
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try fx.db.blocking.write { _ in
                let uow = UnitOfWork(database: fx.db)
                uow.insert(Author(name: "Stanisław Lem"))
                try uow.blocking.commit()
                throw Abort()
            }
        }
        #expect(try fx.count("authors") == 0)
    }

    @Test func givenTheSameCommitShapeManyTimes_whenCommitting_thenEachCommitStillChecksItsOwnLinks()
        async throws
    {
        let fx = try Fixture()
        try await fx.db.write { try $0.execute(Self.clubsAndSeats(foreignKey: true)) }
        // Ten commits of one club and two linked seats: the order is memoized after the first,
        // and every seat still gets its own club's generated key.
        var seats: [(Inserted<Club>, [Inserted<Seat>])] = []
        for i in 0..<10 {
            let uow = UnitOfWork(database: fx.db)
            let club = uow.insert(Club(name: "Club \(i)"))
            let linked = try (0..<2).map { n in
                try uow.insert(Seat(clubID: 0, label: "\(i)-\(n)"), linking: \.clubID, to: club)
            }
            try await uow.commit()
            seats.append((club, linked))
        }
        for (club, linked) in seats {
            let id = try #require(club.value.id)
            #expect(linked.allSatisfy { $0.value.clubID == id })
        }
        let mismatched = try await fx.db.read {
            try $0.scalar(
                """
                SELECT count(*) FROM seats JOIN clubs ON clubs.id = seats.club_id
                WHERE clubs.name != 'Club ' || substr(seats.label, 1, instr(seats.label, '-') - 1)
                """
            ).integerValue
        }
        #expect(mismatched == 0)
        #expect(try fx.count("seats") == 20)
    }
}
