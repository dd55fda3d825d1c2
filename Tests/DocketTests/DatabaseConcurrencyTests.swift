import Docket
import Foundation
import Testing

/// The guarantees of one writer thread plus a reader pool: no lost updates, no "database is
/// locked", readers never blocked by the writer, cancellation that never leaves a transaction
/// open, and blocking APIs that work from plain threads. Serialized: these tests time each other's
/// threads on two shared cores, and a quieter machine makes a failure mean a bug.
@Suite(.serialized) struct DatabaseConcurrencyTests {
    static func counterDatabase(_ configuration: Configuration = Configuration()) async throws -> Database {
        let db = try Database.temporary(configuration: configuration)
        try await db.write { db in
            try db.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
            try db.execute("INSERT INTO counter (id, value) VALUES (1, 0)")
            try db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        }
        return db
    }

    /// Reads the counter and writes it back plus one: loses updates unless writes are serialized.
    @Sendable static func increment(_ db: Connection) throws {
        let value = try db.scalar("SELECT value FROM counter WHERE id = 1").integerValue!
        try db.execute("UPDATE counter SET value = ? WHERE id = 1", [value + 1])
    }

    static func counter(_ db: Database) async throws -> DatabaseValue {
        try await db.read { try $0.scalar("SELECT value FROM counter") }
    }

    /// Polls `flag` from an async context without blocking a cooperative thread.
    static func wait(for flag: Flag, seconds: Double = 10) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !flag.isSet {
            if Date() > deadline { return false }
            try await Task.sleep(for: .milliseconds(1))
        }
        return true
    }

    @Test func given200ConcurrentTasks_whenMixingReadsAndWrites_thenAllSucceedAndEveryWriteLands() async throws {
        let db = try await Self.counterDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    if i % 2 == 0 {
                        try await db.write { try $0.execute("INSERT INTO items (n) VALUES (?)", [i]) }
                    } else {
                        _ = try await db.read { try $0.fetchAll("SELECT * FROM items") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (count, sum) = try await db.read { db in
            (try db.scalar("SELECT count(*) FROM items"), try db.scalar("SELECT sum(n) FROM items"))
        }
        #expect(count == .integer(100))
        #expect(sum == .integer(Int64((0..<200).filter { $0 % 2 == 0 }.reduce(0, +))))
    }

    @Test func given16TasksOf500Increments_whenEachReadsAndWritesInAWrite_thenNoIncrementIsLost() async throws {
        let db = try await Self.counterDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<500 { try await db.write(Self.increment) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.counter(db) == .integer(8000))
    }

    @Test func givenALongWrite_whenReadersRunMeanwhile_thenTheyFinishAndSeeThePreWriteSnapshot() async throws {
        let db = try await Self.counterDatabase()
        let writeHoldsTransaction = Flag()
        let readsDone = Flag()
        // The write holds its transaction until the reads are done: if a reader waited for the
        // writer, neither would finish and the write would report the timeout.
        let write = Task {
            try await db.write { db -> Bool in
                try db.execute("INSERT INTO items (n) VALUES (1)")
                try db.execute("UPDATE counter SET value = 100")
                writeHoldsTransaction.set()
                return waitUntil(seconds: 20) { readsDone.isSet }
            }
        }
        #expect(try await Self.wait(for: writeHoldsTransaction))
        var snapshots: [[DatabaseValue]] = []
        for _ in 0..<5 {
            snapshots.append(
                try await db.read { db in
                    [try db.scalar("SELECT count(*) FROM items"), try db.scalar("SELECT value FROM counter")]
                })
        }
        readsDone.set()
        #expect(try await write.value, "the reads did not finish while the write held its transaction")
        #expect(snapshots == Array(repeating: [.integer(0), .integer(0)], count: 5))
        #expect(try await Self.counter(db) == .integer(100))
    }

    @Test func givenAWriteRunningALongStatement_whenItsTaskIsCancelled_thenItRollsBackAndTheNextWriteWorks()
        async throws
    {
        let db = try await Self.counterDatabase()
        let running = Flag()
        let task = Task {
            try await db.write { db in
                try db.execute("INSERT INTO items (n) VALUES (1)")
                running.set()
                return try db.scalar(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
                        + "SELECT count(*) FROM c")
            }
        }
        #expect(try await Self.wait(for: running))
        let cancelledAt = Date()
        task.cancel()
        let result = await task.result
        #expect(Date().timeIntervalSince(cancelledAt) < 5, "the statement was not interrupted")
        #expect(throws: CancellationError.self) { try result.get() }

        let afterwards = try await db.write { db in
            try db.execute("INSERT INTO items (n) VALUES (2)")
            return try db.fetchAll("SELECT n FROM items").map { $0[0] }
        }
        let inTransaction = try await db.writeWithoutTransaction { $0.isInTransaction }
        #expect(afterwards == [.integer(2)])
        #expect(!inTransaction)
    }

    @Test func givenAReadRunningALongStatement_whenItsTaskIsCancelled_thenItStopsAndTheReaderIsReused() async throws {
        var configuration = Configuration()
        configuration.readerCount = 1
        let db = try await Self.counterDatabase(configuration)
        let running = Flag()
        let task = Task {
            try await db.read { db in
                running.set()
                return try db.scalar(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
                        + "SELECT count(*) FROM c")
            }
        }
        #expect(try await Self.wait(for: running))
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        // The only reader is free and not interrupted.
        #expect(try await Self.counter(db) == .integer(0))
    }

    @Test func givenAWrite_whenItCallsTheBlockingWriteInside_thenAMisuseErrorIsThrownNotADeadlock() async throws {
        let db = try await Self.counterDatabase()
        let error = await #expect(throws: DatabaseError.self) {
            try await db.write { connection in
                try connection.execute("INSERT INTO items (n) VALUES (1)")
                try db.blocking.write { try $0.execute("INSERT INTO items (n) VALUES (2)") }
            }
        }
        #expect(error?.codeName == "SQLITE_MISUSE")
        #expect(error?.message.hasPrefix("write was called from inside a write on the same Database") == true)
        #expect(try await db.read { try $0.scalar("SELECT count(*) FROM items") } == .integer(0))
    }

    @Test func givenARead_whenItCallsTheBlockingWriteInside_thenTheWriteRunsOnTheWriter() async throws {
        let db = try await Self.counterDatabase()
        let seen = try await db.read { connection in
            try db.blocking.write(Self.increment)
            // BEGIN DEFERRED takes the read's snapshot at its first read, after the write committed.
            return try connection.scalar("SELECT value FROM counter")
        }
        #expect(seen == .integer(1))
        #expect(try await Self.counter(db) == .integer(1))
    }

    @Test func givenARead_whenItCallsTheBlockingReadInside_thenTheSameConnectionAndSnapshotAreUsed() async throws {
        var configuration = Configuration()
        configuration.readerCount = 1  // a nested read that waited for a free reader would deadlock
        let db = try await Self.counterDatabase(configuration)
        let outerRead = Flag()
        let writeCommitted = Flag()
        let read = Task {
            try await db.read { connection -> [DatabaseValue] in
                let before = try connection.scalar("SELECT value FROM counter")
                outerRead.set()
                _ = waitUntil { writeCommitted.isSet }
                let nested = try db.blocking.read { inner in
                    [try inner.scalar("SELECT value FROM counter"), .integer(inner === connection ? 1 : 0)]
                }
                return [before] + nested
            }
        }
        #expect(try await Self.wait(for: outerRead))
        try await db.write(Self.increment)
        writeCommitted.set()
        // Same value before and inside: one snapshot; and the nested read got the same connection.
        #expect(try await read.value == [.integer(0), .integer(0), .integer(1)])
        #expect(try await Self.counter(db) == .integer(1))
    }

    @Test func givenEightPlainThreads_whenEachIncrements100TimesWithTheBlockingAPI_thenTheCounterIs800()
        async throws
    {
        let db = try await Self.counterDatabase()
        let failures = Flag()
        let finished = DispatchGroup()
        for _ in 0..<8 {
            finished.enter()
            let thread = Thread {
                for _ in 0..<100 {
                    do { try db.blocking.write(Self.increment) } catch { failures.increment() }
                    do { _ = try db.blocking.read { try $0.scalar("SELECT value FROM counter") } } catch {
                        failures.increment()
                    }
                }
                finished.leave()
            }
            thread.start()
        }
        let done = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: finished.wait(timeout: .now() + 60)) }
        }
        #expect(done == .success)
        #expect(failures.count == 0)
        #expect(try await Self.counter(db) == .integer(800))
    }

    @Test func givenDispatchQueueWorkers_whenIncrementingWithTheBlockingAPI_thenNoIncrementIsLost() async throws {
        let db = try await Self.counterDatabase()
        let failures = Flag()
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                DispatchQueue.concurrentPerform(iterations: 8) { _ in
                    for _ in 0..<50 {
                        do { try db.blocking.write(Self.increment) } catch { failures.increment() }
                    }
                }
                continuation.resume()
            }
        }
        #expect(failures.count == 0)
        #expect(try await Self.counter(db) == .integer(400))
    }
}
