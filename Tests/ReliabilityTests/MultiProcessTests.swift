import Docket
import Foundation
import Testing

struct Writer: Model {
    var id: Int64?
    var name: String
    static let tableName = "authors"
}

/// Several processes writing one file (issue 15, part 1): a write waiting for another process's
/// lock waits and then succeeds, within `Configuration.busyTimeout`; past it, the error says so.
@Suite(.serialized) struct MultiProcessTests {
    func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-mp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Holds the write lock of `path` from its own connection for `seconds`, on a thread of its own.
    /// Returns once the lock is held; `done` is signalled when it is released.
    func holdWriteLock(_ path: String, seconds: Double, done: DispatchSemaphore) throws {
        let holder = try Database(path: path)
        let held = DispatchSemaphore(value: 0)
        Thread {
            _ = try? holder.blocking.write { _ in
                held.signal()
                Thread.sleep(forTimeInterval: seconds)
            }
            holder.close()
            done.signal()
        }.start()
        held.wait()
    }

    @Test func givenFourProcessesAndALockHolder_whenAllCommit_thenNoCommitIsLostOrFails() throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("shared.sqlite").path
        let (processes, tasks, commits) = (4, 8, 40)
        var workers: [(Process, Pipe)] = []
        for _ in 0..<processes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CrashTests.workerPath)
            process.arguments = [path, String(tasks), "normal", String(commits)]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            workers.append((process, output))
        }
        // Meanwhile another writer (a sqlite3 shell, a migration) holds the lock for 1.5 s.
        Thread.sleep(forTimeInterval: 0.3)
        let released = DispatchSemaphore(value: 0)
        try holdWriteLock(path, seconds: 1.5, done: released)
        var acknowledged: [String] = []
        for (process, output) in workers {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "a worker failed: \(text.suffix(500))")
            #expect(text.hasSuffix("done\n"), "\(text.suffix(300))")
            acknowledged += text.split(separator: "\n").compactMap {
                $0.hasPrefix("ack ") ? String($0.dropFirst(4)) : nil
            }
        }
        released.wait()
        #expect(acknowledged.count == processes * tasks * commits)
        let db = try Database(path: path)
        defer { db.close() }
        let stored = try db.blocking.read { db in
            (
                try db.scalar(Int.self, "SELECT count(*) FROM authors"),
                try db.scalar(Int.self, "SELECT count(*) FROM books")
            )
        }
        #expect(stored.0 == processes * tasks * commits)
        #expect(stored.1 == 2 * processes * tasks * commits)
        let names = Set(try db.blocking.read { try Writer.all().fetchAll($0).map(\.name) })
        #expect(acknowledged.allSatisfy { names.contains($0) })
    }

    @Test func givenALockHeldPastTheDeadline_whenCommitting_thenTheErrorSaysSoAndNothingIsLost() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("held.sqlite").path
        var configuration = Configuration()
        configuration.busyTimeout = .milliseconds(300)
        let db = try Database(path: path, configuration: configuration)
        defer { db.close() }
        try await db.write { try $0.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL)") }
        let released = DispatchSemaphore(value: 0)
        try holdWriteLock(path, seconds: 1.5, done: released)
        let uow = UnitOfWork(database: db)
        uow.insert(Writer(name: "patient"))
        let started = ContinuousClock.now
        let error = await #expect(throws: DatabaseError.self) { try await uow.commit() }
        let waited = ContinuousClock.now - started
        #expect(error?.codeName == "SQLITE_BUSY")
        #expect(
            error?.message.contains("held the write lock for longer than 0.3 s") == true, "\(String(describing: error))"
        )
        #expect(error?.message.contains("Configuration.busyTimeout") == true)
        #expect(waited >= .milliseconds(250), "waited \(waited)")
        // Nothing lost: the change is still queued, and commits once the lock is free.
        #expect(uow.pendingChangeCount == 1)
        released.wait()
        try await uow.commit()
        #expect(try await db.read { try $0.scalar(Int.self, "SELECT count(*) FROM authors") } == 1)
    }

    @Test func givenALockHeldWithinTheDeadline_whenCommitting_thenTheCommitWaitsAndLands() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("wait.sqlite").path
        let db = try Database(path: path)  // the default deadline: 30 s
        defer { db.close() }
        try await db.write { try $0.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL)") }
        let released = DispatchSemaphore(value: 0)
        try holdWriteLock(path, seconds: 1.0, done: released)
        try await withUnitOfWork(db) { uow in uow.insert(Writer(name: "waited")) }
        released.wait()
        #expect(try await db.read { try $0.scalar(Int.self, "SELECT count(*) FROM authors") } == 1)
    }
}
