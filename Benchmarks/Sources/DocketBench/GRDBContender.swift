import Foundation
import GRDB

/// GRDB's Codable records, as its README shows them: `Codable, FetchableRecord,
/// MutablePersistableRecord` (the mutable form is GRDB's recipe for auto-incremented ids: `didInsert`
/// stores the generated key), column names from `CodingKeys`.
struct GAuthor: Codable, FetchableRecord, MutablePersistableRecord {
    var id: Int64?
    var name: String
    static let databaseTableName = "authors"
    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct GBook: Codable, FetchableRecord, MutablePersistableRecord {
    var id: Int64?
    var authorID: Int64
    var title: String
    var price: Double
    var pages: Int
    static let databaseTableName = "books"
    enum CodingKeys: String, CodingKey {
        case id
        case authorID = "author_id"
        case title, price, pages
    }
    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct GCounter: Codable, FetchableRecord, PersistableRecord {
    var id: Int64
    var value: Int
    var version: Int
    static let databaseTableName = "counters"
}

/// GRDB 7.10.0 with a `DatabasePool` (WAL), the peer.
enum GRDBContender {
    static func run(
        _ workload: Workload, variant: String, sync: Sync, folder: String, shared: String? = nil
    ) async throws -> Outcome {
        let path = shared ?? folder + "/grdb.sqlite"
        var outcome = Outcome(workload: workload.rawValue, contender: "grdb", variant: variant)
        // GRDB sets WAL, foreign keys and synchronous = NORMAL itself. Its pool sets NORMAL *after*
        // `prepareDatabase` runs (setUpWALMode), so FULL is set on the writer once the pool is open,
        // and read back: a benchmark at the wrong durability would compare nothing.
        func open() throws -> DatabasePool {
            var configuration = Configuration()
            // Several processes on one file: wait for each other's lock, as GRDB's docs advise.
            if shared != nil { configuration.busyMode = .timeout(30) }
            let pool = try DatabasePool(path: path, configuration: configuration)
            let level = try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue)")
                return try Int.fetchOne(db, sql: "PRAGMA synchronous")
            }
            try check(
                level == (sync == .full ? 2 : 1), "GRDB: synchronous is \(level ?? -1), expected \(sync.rawValue)")
            return pool
        }

        switch workload {
        case .w1:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let pool = try open()
            let authors = (0..<Dataset.authorCount).map { GAuthor(id: nil, name: Dataset.authorName($0)) }
            let books = (0..<Dataset.bookCount).map {
                GBook(
                    id: nil, authorID: 0, title: Dataset.title($0), price: Dataset.price($0), pages: Dataset.pages($0))
            }
            let (_, elapsed) = try await timed {
                try await pool.write { db in
                    var ids: [Int64] = []
                    ids.reserveCapacity(authors.count)
                    for var author in authors {
                        try author.insert(db)
                        ids.append(author.id!)
                    }
                    for (j, var book) in books.enumerated() {
                        book.authorID = ids[Dataset.authorIndex(j)]
                        try book.insert(db)
                    }
                }
            }
            outcome.operations = authors.count + books.count
            outcome.seconds = elapsed
            try pool.close()
        case .w2:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let pool = try open()
            let (books, elapsed) = try await timed { try await pool.read { try GBook.fetchAll($0) } }
            outcome.operations = books.count
            outcome.seconds = elapsed
            outcome.peakKiB = peakResidentKiB()
            try verifyDecoded(books.map { ($0.authorID, $0.title, $0.price, $0.pages) })
            try pool.close()
        case .w3:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let pool = try open()
            let (_, elapsed) = try await timed {
                let books = try await pool.read { try GBook.fetchAll($0) }
                try await pool.write { db in
                    // GRDB's own change tracking: updateChanges writes only the columns that changed.
                    for j in stride(from: 0, to: books.count, by: 10) {
                        var book = books[j]
                        try book.updateChanges(db) { $0.pages += 1 }
                    }
                }
            }
            outcome.operations = Dataset.bookCount
            outcome.seconds = elapsed
            try pool.close()
        case .w4, .mp:
            if shared == nil { try RawDB.buildFixture(path: path, authors: false, books: 0) }
            let pool = try open()
            let startedAt = try await Dataset.waitForSharedStart()
            let (latencies, elapsed) = try await timed {
                try await withThrowingTaskGroup(of: [Duration].self) { group in
                    for t in 0..<Dataset.w4Tasks {
                        group.addTask {
                            var latencies: [Duration] = []
                            for k in 0..<Dataset.commitsPerTask(workload) {
                                let start = ContinuousClock.now
                                try await pool.write { db in
                                    var author = GAuthor(id: nil, name: "W4 author \(t)-\(k)")
                                    try author.insert(db)
                                    for n in 0..<2 {
                                        var book = GBook(
                                            id: nil, authorID: author.id!, title: "W4 book \(t)-\(k)-\(n)", price: 1.5,
                                            pages: 10)
                                        try book.insert(db)
                                    }
                                }
                                latencies.append(ContinuousClock.now - start)
                            }
                            return latencies
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
            }
            outcome.operations = latencies.count
            outcome.unit = "commits/s"
            outcome.seconds = elapsed
            outcome.p99Milliseconds = p99(latencies)
            outcome.startedAt = startedAt
            outcome.endedAt = Date().timeIntervalSince1970
            try pool.close()
        case .w5:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let pool = try open()
            let (_, elapsed) = try await timed {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<Dataset.w5Tasks {
                        group.addTask {
                            for _ in 0..<Dataset.w5Increments {
                                try await pool.write { db in
                                    guard var counter = try GCounter.fetchOne(db, key: 1) else {
                                        throw CheckFailure("W5: no counter")
                                    }
                                    counter.value += 1
                                    try counter.update(db)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            outcome.operations = Dataset.w5Tasks * Dataset.w5Increments
            outcome.unit = "increments/s"
            outcome.seconds = elapsed
            try pool.close()
        case .w6:
            try RawDB.buildFixture(path: path, authors: true, books: 0)
            let pool = try open()
            let (_, elapsed) = try await timed {
                let books = (0..<Dataset.bigBookCount).map {
                    GBook(
                        id: nil, authorID: Int64(Dataset.authorIndex($0) + 1), title: Dataset.title($0),
                        price: Dataset.price($0), pages: Dataset.pages($0))
                }
                try await pool.write { db in
                    for var book in books { try book.insert(db) }
                }
            }
            outcome.operations = Dataset.bigBookCount
            outcome.seconds = elapsed
            try pool.close()
        case .m1, .base:
            break
        }
        if outcome.peakKiB == 0 { outcome.peakKiB = peakResidentKiB() }
        return outcome
    }
}
