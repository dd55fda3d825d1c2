import Docket
import Foundation
import Testing

struct Shelf: Model {
    var id: Int64?
    var name: String
    static let tableName = "shelves"
}

struct Volume: Model {
    var id: Int64?
    var shelfID: Int64?
    var title: String
    static let columnNaming = ColumnNaming.snakeCase
}

/// `Database.backup(to:)` (issue 15, part 4): a consistent copy in one call, under concurrent writes.
@Suite struct BackupTests {
    @Test func givenWritesInFlight_whenBackingUp_thenTheCopyIsOneWholeSnapshot() async throws {
        let db = try Database.temporary()
        try await db.write {
            try $0.execute(
                """
                CREATE TABLE shelves (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                CREATE TABLE volumes (id INTEGER PRIMARY KEY, shelf_id INTEGER NOT NULL REFERENCES shelves(id),
                                      title TEXT NOT NULL);
                """)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copies = (0..<3).map { folder.appendingPathComponent("copy-\($0).sqlite").path }
        // Eight tasks commit a shelf and two volumes at a time while three backups are taken.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for n in 0..<150 {
                        try await withUnitOfWork(db) { uow in
                            let shelf = uow.insert(Shelf(name: "\(task)-\(n)"))
                            try uow.insert(Volume(title: "a"), linking: \.shelfID, to: shelf)
                            try uow.insert(Volume(title: "b"), linking: \.shelfID, to: shelf)
                        }
                    }
                }
            }
            group.addTask {
                for copy in copies {
                    try await Task.sleep(for: .milliseconds(20))
                    try await db.backup(to: copy)
                }
            }
            try await group.waitForAll()
        }
        db.close()
        var counts: [Int] = []
        for copy in copies {
            let backup = try Database(path: copy)
            let (integrity, shelves, volumes, partial) = try backup.blocking.read { db in
                (
                    try db.scalar(String.self, "PRAGMA integrity_check"),
                    try db.scalar(Int.self, "SELECT count(*) FROM shelves") ?? -1,
                    try db.scalar(Int.self, "SELECT count(*) FROM volumes") ?? -1,
                    try db.scalar(
                        Int.self,
                        "SELECT count(*) FROM shelves s WHERE (SELECT count(*) FROM volumes v WHERE v.shelf_id = s.id) != 2"
                    )
                        ?? -1
                )
            }
            backup.close()
            #expect(integrity == "ok")
            #expect(volumes == 2 * shelves, "a commit was copied in part")
            #expect(partial == 0)
            counts.append(shelves)
        }
        #expect(counts == counts.sorted(), "each later backup holds at least what the one before did")
    }

    @Test func givenAFileAlreadyThere_whenBackingUp_thenItIsRefusedAndLeftAlone() async throws {
        let db = try Database.temporary()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let existing = folder.appendingPathComponent("keep.sqlite").path
        try Data("precious".utf8).write(to: URL(fileURLWithPath: existing))
        let error = await #expect(throws: DatabaseError.self) { try await db.backup(to: existing) }
        #expect(error?.message.contains("a backup never overwrites one") == true)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "precious")
        let nowhere = folder.appendingPathComponent("missing/copy.sqlite").path
        let missing = await #expect(throws: DatabaseError.self) { try await db.backup(to: nowhere) }
        #expect(missing?.message.contains("does not exist") == true)
    }
}
