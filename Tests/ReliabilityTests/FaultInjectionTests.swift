import CFaultVFS
import CSQLite
import Docket
import Foundation
import Testing

struct Author: Model {
    var id: Int64?
    var name: String
}

struct Book: Model {
    var id: Int64?
    var authorID: Int64?
    var title: String
    static let columnNaming = ColumnNaming.snakeCase
}

let reliabilitySchema = """
    CREATE TABLE IF NOT EXISTS authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                                      title TEXT NOT NULL);
    """

/// Makes writes, syncs and truncates fail at every point of a commit in turn, and checks that each
/// failure leaves an intact database holding exactly the rows it had, an I/O error for the caller,
/// and a Database that keeps serving commits. The VFS is process-global: the suite is serialized.
@Suite(.serialized) struct FaultInjectionTests {
    init() {
        #expect(faultvfs_register() == SQLITE_OK)
        faultvfs_disarm()
        faultvfs_set_readonly(0)
    }

    static func open(_ path: String, synchronous: Configuration.Synchronous) throws -> Database {
        var configuration = Configuration()
        configuration.vfsName = "faultvfs"
        configuration.synchronous = synchronous
        configuration.readerCount = 2
        return try Database(path: path, configuration: configuration)
    }

    static func counts(_ path: String) throws -> (integrity: String, authors: Int64, books: Int64) {
        // A separate Database on the default VFS: what a restarted process would see.
        let check = try Database(path: path)
        defer { check.close() }
        return try check.blocking.read { db in
            (
                try db.scalar("PRAGMA integrity_check").textValue ?? "?",
                try db.scalar("SELECT count(*) FROM authors").integerValue ?? -1,
                try db.scalar("SELECT count(*) FROM books").integerValue ?? -1
            )
        }
    }

    func commitOneUnit(_ db: Database, tag: String) throws {
        let uow = UnitOfWork(database: db)
        let author = uow.insert(Author(name: tag))
        for i in 0..<40 {
            try uow.insert(
                Book(title: "\(tag) book \(i) " + String(repeating: "x", count: 200)), linking: \.authorID, to: author)
        }
        try uow.blocking.commit()
    }

    @Test(arguments: [Configuration.Synchronous.normal, .full])
    func givenAFaultAtEveryWriteAndSyncOfACommit_whenItFails_thenTheDatabaseIsIntactAndUnchanged(
        synchronous: Configuration.Synchronous
    ) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("fault.sqlite").path
        let db = try Self.open(path, synchronous: synchronous)
        defer { db.close() }
        try db.blocking.write { try $0.execute(reliabilitySchema) }
        try commitOneUnit(db, tag: "seed")

        var failures = 0
        var n: Int32 = 0
        while true {
            let before = try Self.counts(path)
            faultvfs_arm(n, sqliteIOErrWrite)
            var caught: Error?
            do { try commitOneUnit(db, tag: "attempt \(n)") } catch { caught = error }
            let injected = faultvfs_faults()
            faultvfs_disarm()
            if injected == 0 {
                // Past the last write of the commit: it succeeded untouched, and the sweep is over.
                #expect(caught == nil)
                break
            }
            failures += 1
            let after = try Self.counts(path)
            #expect(after.integrity == "ok", "fault after \(n) calls")
            if let error = caught as? DatabaseError {
                #expect(error.resultCode == SQLITE_IOERR, "fault after \(n) calls: \(error)")
                #expect(after.authors == before.authors && after.books == before.books, "fault after \(n) calls")
            } else if caught == nil {
                // The fault hit after the commit was durable (e.g. a checkpoint): the commit stands, whole.
                #expect(after.authors == before.authors + 1 && after.books == before.books + 40)
            } else {
                Issue.record("fault after \(n) calls: unexpected \(String(describing: caught))")
            }
            // The Database keeps serving commits.
            try commitOneUnit(db, tag: "recovery \(n)")
            let recovered = try Self.counts(path)
            #expect(recovered.authors == after.authors + 1, "fault after \(n) calls")
            n += 1
            if n > 400 {
                Issue.record("the sweep did not end")
                break
            }
        }
        #expect(failures > 3, "only \(failures) fault points")
        print("fault sweep (\(synchronous)): \(failures) fault points, each rolled back cleanly")
        let final = try Self.counts(path)
        #expect(final.integrity == "ok")
        #expect(final.books == final.authors * 40)
    }

    /// Queues `count` units of work behind a job that holds the writer, so they run as one group,
    /// and returns each one's tag and outcome (`nil`: committed).
    static func groupOfCommits(_ db: Database, count: Int, round: Int) async -> [(String, Error?)] {
        await withTaskGroup(of: (String, Error?).self) { group in
            group.addTask {
                // Holds the writer while the others queue up behind it; it writes nothing.
                _ = try? await db.write { _ in Thread.sleep(forTimeInterval: 0.05) }
                return ("holder", nil)
            }
            for i in 0..<count {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(10))
                    let tag = "round \(round) unit \(i)"
                    do {
                        try await withUnitOfWork(db) { uow in
                            let author = uow.insert(Author(name: tag))
                            for b in 0..<3 {
                                try uow.insert(
                                    Book(title: "\(tag) book \(b) " + String(repeating: "y", count: 300)),
                                    linking: \.authorID, to: author)
                            }
                        }
                        return (tag, nil)
                    } catch {
                        return (tag, error)
                    }
                }
            }
            var outcomes: [(String, Error?)] = []
            for await outcome in group where outcome.0 != "holder" { outcomes.append(outcome) }
            return outcomes
        }
    }

    @Test func givenSixteenUnitsOfWorkInOneGroup_whenAFaultHitsEveryPointOfTheGroup_thenEachCallerIsToldTheTruth()
        async throws
    {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-group-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("group.sqlite").path
        let db = try Self.open(path, synchronous: .full)
        defer { db.close() }
        try await db.write { try $0.execute(reliabilitySchema) }
        var faultPoints = 0
        var n: Int32 = 0
        while n < 2000 {
            faultvfs_arm(n, sqliteIOErrWrite)
            let outcomes = await Self.groupOfCommits(db, count: 16, round: Int(n))
            let injected = faultvfs_faults()
            faultvfs_disarm()
            // What a restarted process would find.
            let check = try Database(path: path)
            let present = Set(try check.blocking.read { try Author.all().fetchAll($0).map(\.name) })
            let integrity = try check.blocking.read { try $0.scalar(String.self, "PRAGMA integrity_check") }
            let partial = try check.blocking.read {
                try $0.scalar(
                    Int.self,
                    "SELECT count(*) FROM authors a WHERE (SELECT count(*) FROM books b WHERE b.author_id = a.id) != 3")
            }
            check.close()
            #expect(integrity == "ok", "fault after \(n) calls")
            #expect(partial == 0, "fault after \(n) calls: a commit landed in part")
            for (tag, error) in outcomes {
                if let error {
                    let unknown = (error as? DatabaseError)?.isCommitOutcomeUnknown == true
                    #expect(unknown || !present.contains(tag), "fault after \(n) calls: \(tag) failed but is there")
                    #expect(error is DatabaseError, "fault after \(n) calls: \(tag): \(error)")
                } else {
                    #expect(present.contains(tag), "fault after \(n) calls: \(tag) was told committed but is missing")
                }
            }
            // The Database keeps serving commits.
            let recovery = await Self.groupOfCommits(db, count: 2, round: -Int(n) - 1)
            #expect(recovery.allSatisfy { $0.1 == nil }, "after a fault at \(n): \(recovery)")
            if injected == 0 {
                #expect(outcomes.allSatisfy { $0.1 == nil })
                break
            }
            faultPoints += 1
            n += 1
        }
        #expect(faultPoints > 10, "only \(faultPoints) fault points")
        print("group fault sweep: \(faultPoints) fault points, 16 units of work each")
    }

    @Test func givenTheSyncOfACommitFails_whenCommitting_thenTheOutcomeIsReportedUnknownNotFailed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-fsync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("fsync.sqlite").path
        var db: Database? = try Self.open(path, synchronous: .full)
        try db!.blocking.write { try $0.execute(reliabilitySchema) }
        try commitOneUnit(db!, tag: "seed")
        // How many writes and syncs one commit makes; at FULL the last is the sync of the -wal.
        faultvfs_arm(1_000_000, sqliteIOErrWrite)
        try commitOneUnit(db!, tag: "measure")
        let calls = faultvfs_calls()
        faultvfs_disarm()
        let before = try Self.counts(path)

        faultvfs_arm(calls - 1, SQLITE_IOERR | (4 << 8))  // SQLITE_IOERR_FSYNC on that last sync
        var caught: Error?
        do { try commitOneUnit(db!, tag: "unknown") } catch { caught = error }
        faultvfs_disarm()
        let error = try #require(caught as? DatabaseError, "\(String(describing: caught))")
        #expect(error.isCommitOutcomeUnknown)
        #expect(error.message.hasPrefix("commit outcome unknown: writing the commit to disk failed"))
        #expect(error.codeName == "SQLITE_IOERR_FSYNC")

        // A restart decides: the commit is either wholly there or wholly absent, never in part.
        db!.close()
        db = nil
        let after = try Self.counts(path)
        #expect(after.integrity == "ok")
        #expect(
            (after.authors == before.authors && after.books == before.books)
                || (after.authors == before.authors + 1 && after.books == before.books + 40),
            "\(before) → \(after)")
        print(
            "fsync failure at COMMIT: after a restart the commit is \(after.authors > before.authors ? "present" : "absent")"
        )
    }

    @Test func givenAFullDisk_whenCommitting_thenTheErrorSaysSoAndNothingIsCorrupted() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("full.sqlite").path
        let db = try Self.open(path, synchronous: .full)
        defer { db.close() }
        try db.blocking.write { try $0.execute(reliabilitySchema) }
        try commitOneUnit(db, tag: "seed")
        faultvfs_arm(0, SQLITE_FULL)
        defer { faultvfs_disarm() }
        let error = #expect(throws: DatabaseError.self) { try commitOneUnit(db, tag: "does not fit") }
        faultvfs_disarm()
        #expect(error?.resultCode == SQLITE_FULL)
        #expect("\(error!)".contains("database or disk is full"))
        let after = try Self.counts(path)
        #expect(after.integrity == "ok")
        #expect(after.authors == 1)
        try commitOneUnit(db, tag: "after space was freed")
        #expect(try Self.counts(path).authors == 2)
    }

    @Test func givenAReadOnlyDatabaseFile_whenWriting_thenTheErrorSaysSoAndTheFileIsUntouched() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-ro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ro.sqlite").path
        do {
            let db = try Database(path: path)
            try db.blocking.write { try $0.execute(reliabilitySchema) }
            try commitOneUnit(db, tag: "seed")
            db.close()
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        faultvfs_set_readonly(1)
        defer { faultvfs_set_readonly(0) }
        var failure: Error?
        do {
            let db = try Self.open(path, synchronous: .normal)
            defer { db.close() }
            try commitOneUnit(db, tag: "refused")
        } catch {
            failure = error
        }
        faultvfs_set_readonly(0)
        let error = try #require(failure as? DatabaseError, "\(String(describing: failure))")
        #expect(error.resultCode == SQLITE_READONLY, "\(error)")
        #expect("\(error)".contains("readonly") || "\(error)".contains("read-only"), "\(error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        let after = try Self.counts(path)
        #expect(after.integrity == "ok")
        #expect(after.authors == 1)
    }
}

/// `SQLITE_IOERR_WRITE`, a C macro Swift cannot import.
let sqliteIOErrWrite: Int32 = SQLITE_IOERR | (3 << 8)
