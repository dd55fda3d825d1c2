import Docket
import DocketMacros
import Foundation

@Table
struct Author: Model {
    var id: Int64?
    var name: String
}

/// The same shape as GRDB's `GBook` (a non-optional foreign key, 0 until linked), so both
/// contenders hold the same bytes per row. `@Table` generates its column-by-column reading and
/// writing, as `Docs/Models.md` recommends for speed.
@Table
struct Book: Model {
    var id: Int64?
    var authorID: Int64
    var title: String
    var price: Double
    var pages: Int
    static let columnNaming = ColumnNaming.snakeCase
}

/// The benchmark's author and book, whichever way they are mapped.
protocol BenchAuthor: Model where ID == Int64? {
    init(id: Int64?, name: String)
}

protocol BenchBook: Model where ID == Int64? {
    init(id: Int64?, authorID: Int64, title: String, price: Double, pages: Int)
    var authorID: Int64 { get set }
    var title: String { get }
    var price: Double { get }
    var pages: Int { get set }
}

extension Author: BenchAuthor {}
extension Book: BenchBook {}

/// `Author` and `Book` without `@Table`: the `Codable` path, for the "Codable" variant rows.
struct CodableAuthor: BenchAuthor {
    var id: Int64?
    var name: String
    static let tableName = "authors"
}

struct CodableBook: BenchBook {
    var id: Int64?
    var authorID: Int64
    var title: String
    var price: Double
    var pages: Int
    static let tableName = "books"
    static let columnNaming = ColumnNaming.snakeCase
}

@Table
struct Counter: Model {
    var id: Int64?
    var value: Int
    var version: Int
    static var version: WritableKeyPath<Counter, Int>? { \.version }
}

/// The counter as a user first writes it: no version column (compare-and-set protects it).
@Table
struct PlainCounter: Model {
    var id: Int64?
    var value: Int
    static let tableName = "counters"
}

/// Docket, used as its documentation shows: a unit of work for writes, `Query` for reads.
enum DocketContender {
    static func run(
        _ workload: Workload, variant: String, sync: Sync, folder: String, shared: String? = nil
    ) async throws -> Outcome {
        let path = shared ?? folder + "/docket.sqlite"
        var outcome = Outcome(
            workload: workload.rawValue, contender: variant.hasPrefix("uow") ? "docket-uow" : "docket")
        outcome.variant = variant.hasPrefix("uow") ? "" : variant
        var configuration = Configuration()
        configuration.synchronous = sync == .full ? .full : .normal
        if variant.contains("group commit off") { configuration.groupCommit = .disabled }

        switch workload {
        case .w1:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let db = try Database(path: path, configuration: configuration)
            switch variant {
            case "Codable": outcome.seconds = try await w1(db, CodableAuthor.self, \CodableBook.authorID)
            case "bulk links": outcome.seconds = try await w1BulkLinked(db)
            case "bulk, keys known": outcome.seconds = try await w1KeysKnown(db)
            default: outcome.seconds = try await w1(db, Author.self, \Book.authorID)
            }
            outcome.operations = Dataset.authorCount + Dataset.bookCount
            db.close()
        case .w2:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let db = try Database(path: path, configuration: configuration)
            outcome.seconds = variant == "Codable" ? try await w2(db, CodableBook.self) : try await w2(db, Book.self)
            outcome.operations = Dataset.bookCount
            outcome.peakKiB = peakResidentKiB()
            db.close()
        case .w3:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let db = try Database(path: path, configuration: configuration)
            outcome.seconds = variant == "Codable" ? try await w3(db, CodableBook.self) : try await w3(db, Book.self)
            outcome.operations = Dataset.bookCount
            db.close()
        case .w4, .mp:
            if shared == nil { try RawDB.buildFixture(path: path, authors: false, books: 0) }
            let db = try Database(path: path, configuration: configuration)
            let startedAt = try await Dataset.waitForSharedStart()
            let level = try await db.write { try $0.scalar("PRAGMA synchronous").integerValue }
            try check(
                level == (sync == .full ? 2 : 1), "Docket: synchronous is \(level ?? -1), expected \(sync.rawValue)")
            let (latencies, elapsed) = try await timed {
                try await withThrowingTaskGroup(of: [Duration].self) { group in
                    for t in 0..<Dataset.w4Tasks {
                        group.addTask {
                            var latencies: [Duration] = []
                            for k in 0..<Dataset.commitsPerTask(workload) {
                                let start = ContinuousClock.now
                                let uow = UnitOfWork(database: db)
                                let author = uow.insert(Author(id: nil, name: "W4 author \(t)-\(k)"))
                                for n in 0..<2 {
                                    try uow.insert(
                                        Book(
                                            id: nil, authorID: 0, title: "W4 book \(t)-\(k)-\(n)", price: 1.5,
                                            pages: 10),
                                        linking: \.authorID, to: author)
                                }
                                try await uow.commit()
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
            db.close()
        case .w5:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let db = try Database(path: path, configuration: configuration)
            let form = variant.hasPrefix("uow-") ? String(variant.dropFirst(4)) : ""
            let (counts, elapsed) = try await timed {
                try await withThrowingTaskGroup(of: (landed: Int, reported: Int).self) { group in
                    for _ in 0..<Dataset.w5Tasks {
                        group.addTask {
                            var (landed, reported) = (0, 0)
                            for _ in 0..<Dataset.w5Increments {
                                switch form {
                                case "natural":
                                    if try await incrementNaturally(db) { landed += 1 } else { reported += 1 }
                                case "retry":
                                    try await incrementNaturally(db, retry: .conflicts(attempts: 100_000))
                                case "writer":
                                    try await db.writeUnitOfWork { uow in
                                        guard var counter = try uow.blocking.find(PlainCounter.self, id: 1) else {
                                            throw CheckFailure("W5: no counter")
                                        }
                                        counter.value += 1
                                        uow.update(counter)
                                    }
                                default:
                                    // The read and the write in one write job: the writer runs jobs one at a
                                    // time, so no increment is lost.
                                    try await db.write { conn in
                                        let value = try conn.scalar("SELECT value FROM counters WHERE id = 1")
                                        try conn.execute(
                                            "UPDATE counters SET value = ? WHERE id = 1",
                                            [(value.integerValue ?? 0) + 1])
                                    }
                                }
                            }
                            return (landed, reported)
                        }
                    }
                    return try await group.reduce(into: (landed: 0, reported: 0)) {
                        $0 = ($0.landed + $1.landed, $0.reported + $1.reported)
                    }
                }
            }
            if form == "natural" {
                outcome.landed = counts.landed
                outcome.reported = counts.reported
            }
            if form == "retry" {
                outcome.retriesPerOperation = Double(db.retryCount) / Double(Dataset.w5Tasks * Dataset.w5Increments)
            }
            outcome.operations = Dataset.w5Tasks * Dataset.w5Increments
            outcome.unit = "increments/s"
            outcome.seconds = elapsed
            db.close()
        case .w6:
            try RawDB.buildFixture(path: path, authors: true, books: 0)
            let db = try Database(path: path, configuration: configuration)
            let (_, elapsed) = try await timed {
                let books = (0..<Dataset.bigBookCount).map {
                    Book(
                        id: nil, authorID: Int64(Dataset.authorIndex($0) + 1), title: Dataset.title($0),
                        price: Dataset.price($0), pages: Dataset.pages($0))
                }
                let uow = UnitOfWork(database: db)
                let rows = uow.insert(contentsOf: books)
                try await uow.commit()
                try check(
                    rows.count == Dataset.bigBookCount && rows[rows.count - 1].id != nil, "W6: the last row has no key")
            }
            outcome.operations = Dataset.bigBookCount
            outcome.seconds = elapsed
            db.close()
        case .m1, .base:
            break
        }
        if outcome.peakKiB == 0 { outcome.peakKiB = peakResidentKiB() }
        return outcome
    }

    /// W1: 10k authors, then 100k books linked to them, in one commit.
    /// `authorID` is the stored property's own key path: one through the protocol requirement
    /// would be a computed key path, slower to apply than the property itself.
    static func w1<A: BenchAuthor, B: BenchBook>(
        _ db: Database, _: A.Type, _ authorID: WritableKeyPath<B, Int64>
    ) async throws -> Double {
        let authors = (0..<Dataset.authorCount).map { A(id: nil, name: Dataset.authorName($0)) }
        let books = (0..<Dataset.bookCount).map {
            B(id: nil, authorID: 0, title: Dataset.title($0), price: Dataset.price($0), pages: Dataset.pages($0))
        }
        let (_, elapsed) = try await timed {
            let uow = UnitOfWork(database: db)
            var handles: [Inserted<A>] = []
            handles.reserveCapacity(authors.count)
            for author in authors { handles.append(uow.insert(author)) }
            for (j, book) in books.enumerated() {
                try uow.insert(book, linking: authorID, to: handles[Dataset.authorIndex(j)])
            }
            try await uow.commit()
            try check(handles.allSatisfy { $0.id != nil }, "W1: an author handle has no generated key")
        }
        return elapsed
    }

    /// W2: fetch and decode 100k books.
    static func w2<B: BenchBook>(_ db: Database, _: B.Type) async throws -> Double {
        let (books, elapsed) = try await timed { try await db.read { try B.all().fetchAll($0) } }
        try verifyDecoded(books.map { ($0.authorID, $0.title, $0.price, $0.pages) })
        return elapsed
    }

    /// W3: load 100k books through a unit of work, change 10% of them, commit.
    static func w3<B: BenchBook>(_ db: Database, _: B.Type) async throws -> Double {
        let (_, elapsed) = try await timed {
            let uow = UnitOfWork(database: db)
            var books = try await uow.fetch(B.all())
            for j in stride(from: 0, to: books.count, by: 10) {
                books[j].pages += 1
                uow.update(books[j])
            }
            try await uow.commit()
        }
        return elapsed
    }

    /// W1 with both bulk calls: the authors with `insert(contentsOf:)`, the books with
    /// `insert(contentsOf:linking:to:)`.
    static func w1BulkLinked(_ db: Database) async throws -> Double {
        let authors = (0..<Dataset.authorCount).map { Author(id: nil, name: Dataset.authorName($0)) }
        let books = (0..<Dataset.bookCount).map {
            Book(id: nil, authorID: 0, title: Dataset.title($0), price: Dataset.price($0), pages: Dataset.pages($0))
        }
        let (_, elapsed) = try await timed {
            let uow = UnitOfWork(database: db)
            let handles = uow.insert(contentsOf: authors)
            try uow.insert(contentsOf: books, linking: \.authorID, to: { handles[Dataset.authorIndex($0)] })
            try await uow.commit()
            try check(handles[handles.count - 1].id != nil, "W1: an author handle has no generated key")
        }
        return elapsed
    }

    /// W1's rows with the authors' keys chosen by the caller: two `insert(contentsOf:)` calls and no
    /// links, the cost per row `insert(contentsOf:linking:to:)` must match.
    static func w1KeysKnown(_ db: Database) async throws -> Double {
        let authors = (0..<Dataset.authorCount).map { Author(id: Int64($0 + 1), name: Dataset.authorName($0)) }
        let books = (0..<Dataset.bookCount).map {
            Book(
                id: nil, authorID: Int64(Dataset.authorIndex($0) + 1), title: Dataset.title($0),
                price: Dataset.price($0), pages: Dataset.pages($0))
        }
        let (_, elapsed) = try await timed {
            let uow = UnitOfWork(database: db)
            uow.insert(contentsOf: authors)
            uow.insert(contentsOf: books)
            try await uow.commit()
        }
        return elapsed
    }

    /// The natural read-modify-write, as a new user writes it: find, bump, update, commit, on a
    /// model without a version column. Returns `false` when the commit was a stale write (reported,
    /// not lost). With `retry`, the unit of work runs again until it lands.
    @discardableResult
    static func incrementNaturally(_ db: Database, retry: RetryPolicy = .never) async throws -> Bool {
        do {
            try await withUnitOfWork(db, retry: retry) { uow in
                guard var counter = try await uow.find(PlainCounter.self, id: 1) else {
                    throw CheckFailure("W5: no counter")
                }
                counter.value += 1
                uow.update(counter)
            }
            return true
        } catch UnitOfWorkError.staleWrite {
            return false
        }
    }
}
