import CSQLiteBench
import Foundation

/// `SQLITE_STATIC` and `SQLITE_TRANSIENT` (C macros Swift cannot import).
private let sqliteStatic = unsafeBitCast(0, to: sqlite3_destructor_type.self)

/// A thin, careful wrapper of one `sqlite3*`: the raw contender, and the fixture builder and
/// checker for every contender.
///
/// `@unchecked Sendable`: W4 and W5 share one connection between threads, always behind `lock`
/// (one thread uses it at a time, as SQLite's multi-thread mode requires); nothing else does.
final class RawDB: @unchecked Sendable {
    let handle: OpaquePointer
    let lock = NSLock()

    init(path: String, synchronous: Sync = .normal) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            throw CheckFailure("cannot open \(path)")
        }
        handle = db
        // The checker opens the file right after a contender closed it: wait out a lock still held.
        sqlite3_busy_timeout(db, 5000)
        try exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = \(synchronous.rawValue); PRAGMA foreign_keys = ON")
    }

    deinit { sqlite3_close_v2(handle) }

    func exec(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "?"
            sqlite3_free(message)
            throw CheckFailure("\(sql): \(text)")
        }
    }

    func prepare(_ sql: String) throws -> OpaquePointer {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil) == SQLITE_OK,
            let stmt
        else { throw CheckFailure("\(sql): \(String(cString: sqlite3_errmsg(handle)))") }
        return stmt
    }

    /// Steps a statement that returns no row, then resets it.
    @inline(__always) func run(_ stmt: OpaquePointer) throws {
        let code = sqlite3_step(stmt)
        sqlite3_reset(stmt)
        if code != SQLITE_DONE { throw CheckFailure("step: \(String(cString: sqlite3_errmsg(handle)))") }
    }

    func int(_ sql: String) throws -> Int64 {
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { throw CheckFailure("\(sql): no row") }
        return sqlite3_column_int64(stmt, 0)
    }

    func double(_ sql: String) throws -> Double {
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { throw CheckFailure("\(sql): no row") }
        return sqlite3_column_double(stmt, 0)
    }

    /// Binds a Swift string without copying it, and runs `body` while the bytes are alive.
    @inline(__always) func withText<T>(_ text: String, _ body: (UnsafePointer<CChar>, Int32) throws -> T) rethrows -> T
    {
        var text = text
        return try text.withUTF8 { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else {
                    let empty: StaticString = ""
                    return try empty.utf8Start.withMemoryRebound(to: CChar.self, capacity: 1) { try body($0, 0) }
                }
                return try body(base, Int32(chars.count))
            }
        }
    }

    // MARK: Fixtures and checks (shared by every contender, never timed)

    /// Creates the schema, and optionally 10k authors and `books` books, with plain SQL.
    static func buildFixture(path: String, authors: Bool, books: Int) throws {
        let db = try RawDB(path: path)
        try db.exec(Dataset.schema)
        guard authors else { return }
        try db.exec("BEGIN")
        let a = try db.prepare("INSERT INTO authors (id, name) VALUES (?, ?)")
        for i in 0..<Dataset.authorCount {
            sqlite3_bind_int64(a, 1, Int64(i + 1))
            _ = db.withText(Dataset.authorName(i)) { sqlite3_bind_text(a, 2, $0, $1, sqliteStatic) }
            try db.run(a)
        }
        sqlite3_finalize(a)
        let b = try db.prepare("INSERT INTO books (author_id, title, price, pages) VALUES (?, ?, ?, ?)")
        for j in 0..<books {
            try db.insertBook(
                b, authorID: Int64(Dataset.authorIndex(j) + 1), title: Dataset.title(j),
                price: Dataset.price(j), pages: Dataset.pages(j))
        }
        sqlite3_finalize(b)
        try db.exec("COMMIT")
    }

    @inline(__always) func insertBook(_ stmt: OpaquePointer, authorID: Int64, title: String, price: Double, pages: Int)
        throws
    {
        sqlite3_bind_int64(stmt, 1, authorID)
        try withText(title) { bytes, count in
            sqlite3_bind_text(stmt, 2, bytes, count, sqliteStatic)
            sqlite3_bind_double(stmt, 3, price)
            sqlite3_bind_int64(stmt, 4, Int64(pages))
            try run(stmt)  // inside the closure: the text is bound without a copy (SQLITE_STATIC)
        }
    }

    /// Sums of the books table, computed by SQLite.
    func bookSums() throws -> Dataset.Sums {
        Dataset.Sums(
            count: Int(try int("SELECT count(*) FROM books")),
            pages: Int(try int("SELECT coalesce(sum(pages), 0) FROM books")),
            authorIDs: Int(try int("SELECT coalesce(sum(author_id), 0) FROM books")),
            price: try double("SELECT total(price) FROM books"))
    }

    /// Books whose author is the one their title's number says (`Book title number j` → author j % 10k).
    func correctlyLinkedBooks() throws -> Int {
        Int(
            try int(
                """
                SELECT count(*) FROM books b JOIN authors a ON a.id = b.author_id
                WHERE a.name = 'Author number ' || (CAST(substr(b.title, 19) AS INTEGER) % \(Dataset.authorCount))
                """))
    }

    func integrityOK() throws -> Bool {
        let stmt = try prepare("PRAGMA integrity_check")
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { return false }
        return String(cString: sqlite3_column_text(stmt, 0)) == "ok"
    }
}

/// A book as the raw contender holds it: a plain struct, no protocol.
struct RawBook {
    var id: Int64
    var authorID: Int64
    var title: String
    var price: Double
    var pages: Int
}

/// The physical limit: the SQLite C API used well (prepared statements reused, one transaction,
/// text bound without a copy).
enum RawContender {
    static func run(_ workload: Workload, variant: String, sync: Sync, folder: String) async throws -> Outcome {
        let path = folder + "/raw.sqlite"
        var outcome = Outcome(workload: workload.rawValue, contender: "raw", variant: variant)
        switch workload {
        case .w1:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let db = try RawDB(path: path, synchronous: sync)
            let names = (0..<Dataset.authorCount).map(Dataset.authorName)
            let books = (0..<Dataset.bookCount).map {
                RawBook(
                    id: 0, authorID: 0, title: Dataset.title($0), price: Dataset.price($0), pages: Dataset.pages($0))
            }
            let (_, elapsed) = try await timed {
                try db.exec("BEGIN IMMEDIATE")
                let a = try db.prepare("INSERT INTO authors (name) VALUES (?)")
                var ids: [Int64] = []
                ids.reserveCapacity(names.count)
                for name in names {
                    try db.withText(name) { bytes, count in
                        sqlite3_bind_text(a, 1, bytes, count, sqliteStatic)
                        try db.run(a)
                    }
                    ids.append(sqlite3_last_insert_rowid(db.handle))
                }
                let b = try db.prepare("INSERT INTO books (author_id, title, price, pages) VALUES (?, ?, ?, ?)")
                for (j, book) in books.enumerated() {
                    try db.insertBook(
                        b, authorID: ids[Dataset.authorIndex(j)], title: book.title, price: book.price,
                        pages: book.pages)
                }
                try db.exec("COMMIT")
                sqlite3_finalize(a)
                sqlite3_finalize(b)
            }
            outcome.operations = Dataset.authorCount + Dataset.bookCount
            outcome.seconds = elapsed
        case .w2:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let db = try RawDB(path: path, synchronous: sync)
            let (books, elapsed) = try await timed { try fetchBooks(db) }
            outcome.operations = books.count
            outcome.seconds = elapsed
            outcome.peakKiB = peakResidentKiB()
            try verifyDecoded(books.map { ($0.authorID, $0.title, $0.price, $0.pages) })
        case .w3:
            try RawDB.buildFixture(path: path, authors: true, books: Dataset.bookCount)
            let db = try RawDB(path: path, synchronous: sync)
            let (_, elapsed) = try await timed {
                var books = try fetchBooks(db)
                try db.exec("BEGIN IMMEDIATE")
                let u = try db.prepare("UPDATE books SET pages = ? WHERE id = ?")
                for j in stride(from: 0, to: books.count, by: 10) {
                    books[j].pages += 1
                    sqlite3_bind_int64(u, 1, Int64(books[j].pages))
                    sqlite3_bind_int64(u, 2, books[j].id)
                    try db.run(u)
                }
                try db.exec("COMMIT")
                sqlite3_finalize(u)
            }
            outcome.operations = Dataset.bookCount
            outcome.seconds = elapsed
        case .w4:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let db = try RawDB(path: path, synchronous: sync)
            let begin = try db.prepare("BEGIN IMMEDIATE")
            let commit = try db.prepare("COMMIT")
            let a = try db.prepare("INSERT INTO authors (name) VALUES (?)")
            let b = try db.prepare("INSERT INTO books (author_id, title, price, pages) VALUES (?, ?, ?, ?)")
            let statements = Statements(begin: begin, commit: commit, author: a, book: b)
            // 64 threads share the one connection behind a mutex: the well-written answer in plain
            // C (a connection per thread would meet SQLITE_BUSY).
            let (latencies, elapsed) = await timed {
                await runThreads(Dataset.w4Tasks) { t in
                    var latencies: [Duration] = []
                    for k in 0..<Dataset.w4CommitsPerTask {
                        let start = ContinuousClock.now
                        db.lock.lock()
                        do {
                            try db.run(statements.begin)
                            try db.withText("W4 author \(t)-\(k)") { bytes, count in
                                sqlite3_bind_text(statements.author, 1, bytes, count, sqliteStatic)
                                try db.run(statements.author)
                            }
                            let id = sqlite3_last_insert_rowid(db.handle)
                            for n in 0..<2 {
                                try db.insertBook(
                                    statements.book, authorID: id, title: "W4 book \(t)-\(k)-\(n)", price: 1.5,
                                    pages: 10)
                            }
                            try db.run(statements.commit)
                        } catch {
                            fatalError("raw W4: \(error)")
                        }
                        db.lock.unlock()
                        latencies.append(ContinuousClock.now - start)
                    }
                    return latencies
                }
            }
            for s in [begin, commit, a, b] { sqlite3_finalize(s) }
            outcome.operations = latencies.count
            outcome.unit = "commits/s"
            outcome.seconds = elapsed
            outcome.p99Milliseconds = p99(latencies)
        case .w5:
            try RawDB.buildFixture(path: path, authors: false, books: 0)
            let db = try RawDB(path: path, synchronous: sync)
            let statements = Statements(
                begin: try db.prepare("BEGIN IMMEDIATE"), commit: try db.prepare("COMMIT"),
                author: try db.prepare("SELECT value FROM counters WHERE id = 1"),
                book: try db.prepare("UPDATE counters SET value = ? WHERE id = 1"))
            let (_, elapsed) = await timed {
                _ = await runThreads(Dataset.w5Tasks) { _ in
                    for _ in 0..<Dataset.w5Increments {
                        db.lock.lock()
                        do {
                            try db.run(statements.begin)
                            guard sqlite3_step(statements.author) == SQLITE_ROW else {
                                fatalError("raw W5: no counter")
                            }
                            let value = sqlite3_column_int64(statements.author, 0)
                            sqlite3_reset(statements.author)
                            sqlite3_bind_int64(statements.book, 1, value + 1)
                            try db.run(statements.book)
                            try db.run(statements.commit)
                        } catch {
                            fatalError("raw W5: \(error)")
                        }
                        db.lock.unlock()
                    }
                    return []
                }
            }
            for s in [statements.begin, statements.commit, statements.author, statements.book] { sqlite3_finalize(s) }
            outcome.operations = Dataset.w5Tasks * Dataset.w5Increments
            outcome.unit = "increments/s"
            outcome.seconds = elapsed
        case .w6:
            try RawDB.buildFixture(path: path, authors: true, books: 0)
            let db = try RawDB(path: path, synchronous: sync)
            let (_, elapsed) = try await timed {
                let books = (0..<Dataset.bigBookCount).map {
                    RawBook(
                        id: 0, authorID: Int64(Dataset.authorIndex($0) + 1), title: Dataset.title($0),
                        price: Dataset.price($0), pages: Dataset.pages($0))
                }
                try db.exec("BEGIN IMMEDIATE")
                let b = try db.prepare("INSERT INTO books (author_id, title, price, pages) VALUES (?, ?, ?, ?)")
                for book in books {
                    try db.insertBook(
                        b, authorID: book.authorID, title: book.title, price: book.price, pages: book.pages)
                }
                try db.exec("COMMIT")
                sqlite3_finalize(b)
            }
            outcome.operations = Dataset.bigBookCount
            outcome.seconds = elapsed
        case .m1:
            try RawDB.buildFixture(path: path, authors: true, books: 0)
            let db = try RawDB(path: path, synchronous: sync)
            let rowsPerStatement = Int(variant.split(separator: "=").last ?? "1") ?? 1
            let books = (0..<Dataset.bookCount).map {
                RawBook(
                    id: 0, authorID: Int64(Dataset.authorIndex($0) + 1), title: Dataset.title($0),
                    price: Dataset.price($0), pages: Dataset.pages($0))
            }
            let (_, elapsed) = try await timed { try insertMultiRow(db, books, rowsPerStatement: rowsPerStatement) }
            outcome.operations = Dataset.bookCount
            outcome.seconds = elapsed
        case .base, .mp:
            break
        }
        if outcome.peakKiB == 0 { outcome.peakKiB = peakResidentKiB() }
        return outcome
    }

    private struct Statements: @unchecked Sendable {
        // Used only while holding the connection's lock.
        let begin: OpaquePointer
        let commit: OpaquePointer
        let author: OpaquePointer
        let book: OpaquePointer
    }

    static func fetchBooks(_ db: RawDB) throws -> [RawBook] {
        let s = try db.prepare("SELECT id, author_id, title, price, pages FROM books")
        defer { sqlite3_finalize(s) }
        var books: [RawBook] = []
        while sqlite3_step(s) == SQLITE_ROW {
            let bytes = sqlite3_column_text(s, 2)!
            let count = Int(sqlite3_column_bytes(s, 2))
            books.append(
                RawBook(
                    id: sqlite3_column_int64(s, 0), authorID: sqlite3_column_int64(s, 1),
                    title: String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self),
                    price: sqlite3_column_double(s, 3), pages: Int(sqlite3_column_int64(s, 4))))
        }
        return books
    }

    /// `rowsPerStatement` rows per INSERT … VALUES (?,?,?,?), (?,?,?,?), …; the tail uses a smaller statement.
    static func insertMultiRow(_ db: RawDB, _ books: [RawBook], rowsPerStatement: Int) throws {
        func sql(_ rows: Int) -> String {
            "INSERT INTO books (author_id, title, price, pages) VALUES "
                + Array(repeating: "(?, ?, ?, ?)", count: rows).joined(separator: ", ")
        }
        try db.exec("BEGIN IMMEDIATE")
        let full = try db.prepare(sql(rowsPerStatement))
        var start = 0
        while start < books.count {
            let n = min(rowsPerStatement, books.count - start)
            let stmt = n == rowsPerStatement ? full : try db.prepare(sql(n))
            // The text of every row must stay alive until the step: copy it (SQLITE_TRANSIENT) here.
            for r in 0..<n {
                let book = books[start + r]
                let base = Int32(r * 4)
                sqlite3_bind_int64(stmt, base + 1, book.authorID)
                db.withText(book.title) {
                    _ = sqlite3_bind_text(stmt, base + 2, $0, $1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
                }
                sqlite3_bind_double(stmt, base + 3, book.price)
                sqlite3_bind_int64(stmt, base + 4, Int64(book.pages))
            }
            try db.run(stmt)
            if stmt != full { sqlite3_finalize(stmt) }
            start += n
        }
        sqlite3_finalize(full)
        try db.exec("COMMIT")
    }
}

/// Runs `count` OS threads (not tasks: they block on a mutex) and gathers their latencies.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> [Duration]) async -> [Duration] {
    await withCheckedContinuation { continuation in
        let results = Results(count: count)
        let group = DispatchGroup()
        for t in 0..<count {
            group.enter()
            let thread = Thread {
                results.set(t, body(t))
                group.leave()
            }
            thread.start()
        }
        group.notify(queue: .global()) { continuation.resume(returning: results.all) }
    }
}

/// Per-thread result slots, each written by one thread before the group is left.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [[Duration]]
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [Duration]) { lock.withLock { slots[i] = value } }
    var all: [Duration] { lock.withLock { slots.flatMap { $0 } } }
}

/// Checks decoded books against the generated data (W2, every contender).
func verifyDecoded(_ books: [(authorID: Int64, title: String, price: Double, pages: Int)]) throws {
    var sums = Dataset.Sums()
    var titleBytes = 0
    for b in books {
        sums.count += 1
        sums.pages += b.pages
        sums.authorIDs += Int(b.authorID)
        sums.price += b.price
        titleBytes += b.title.utf8.count
    }
    let expected = Dataset.expectedSums(books: Dataset.bookCount)
    try check(sums == expected, "decoded books: \(sums), expected \(expected)")
    let expectedBytes = (0..<Dataset.bookCount).reduce(0) { $0 + Dataset.title($1).utf8.count }
    try check(titleBytes == expectedBytes, "decoded titles: \(titleBytes) bytes, expected \(expectedBytes)")
}
