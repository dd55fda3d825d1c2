import Docket
import Foundation
import Synchronization

struct Author: Model, Equatable {
    var id: Int64?
    var name: String
}

struct Book: Model, Equatable {
    var id: Int64?
    var authorID: Int64?
    var title: String
    var isbn: String?
    var pages: Int = 0
    var version: Int = 0
    static let columnNaming = ColumnNaming.snakeCase
    static var version: WritableKeyPath<Book, Int>? { \.version }
}

/// A book model without a version column, for last-writer-wins on separate columns.
struct PlainBook: Model, Equatable {
    var id: Int64?
    var authorID: Int64?
    var title: String
    var isbn: String?
    var pages: Int
    static let tableName = "books"
    static let columnNaming = ColumnNaming.snakeCase
}

struct Category: Model, Equatable {
    var id: Int64?
    var parentID: Int64?
    var name: String
    static let columnNaming = ColumnNaming.snakeCase
}

struct User: Model, Equatable {
    var id: Int64?
    var name: String
    var favoritePostID: Int64?
    static let columnNaming = ColumnNaming.snakeCase
}

struct Post: Model, Equatable {
    var id: Int64?
    var userID: Int64 = 0
    var title: String
    static let columnNaming = ColumnNaming.snakeCase
}

struct Chicken: Model {
    var id: Int64?
    var eggID: Int64 = 0
    static let columnNaming = ColumnNaming.snakeCase
}

struct Egg: Model {
    var id: Int64?
    var chickenID: Int64 = 0
    static let columnNaming = ColumnNaming.snakeCase
}

struct Tag: Model, Equatable {
    var id: UUID
    var label: String
    var meta: Meta
    struct Meta: Codable, Equatable, Sendable {
        var colors: [String]
    }
}

let schema = """
    CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE books (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES authors(id),
        title TEXT NOT NULL,
        isbn TEXT UNIQUE,
        pages INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE categories (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES categories(id), name TEXT NOT NULL);
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, favorite_post_id INTEGER REFERENCES posts(id));
    CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), title TEXT NOT NULL);
    CREATE TABLE chickens (id INTEGER PRIMARY KEY, egg_id INTEGER NOT NULL REFERENCES eggs(id));
    CREATE TABLE eggs (id INTEGER PRIMARY KEY, chicken_id INTEGER NOT NULL REFERENCES chickens(id));
    CREATE TABLE tags (id TEXT PRIMARY KEY, label TEXT NOT NULL UNIQUE, meta TEXT NOT NULL);
    """

/// A temporary database with the fixture schema, recording every statement its writer runs.
final class StatementLog: Sendable {
    let lines = LockedLines()
}

/// Lines behind an NSLock (a pthread mutex, which ThreadSanitizer understands; it cannot see the
/// futexes of `Synchronization.Mutex` and would report races). `@unchecked Sendable`: `storage` is
/// only touched under `lock`.
final class LockedLines: @unchecked Sendable {
    private var storage: [String] = []
    private let lock = NSLock()

    func withLock<R>(_ body: (inout [String]) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&storage)
    }
}

final class Fixture: Sendable {
    let db: Database
    private let log = StatementLog()

    init(_ configure: (inout Configuration) -> Void = { _ in }) throws {
        var configuration = Configuration()
        let log = self.log
        configuration.trace = { event in
            if event.isWriter { log.lines.withLock { $0.append(event.sql) } }
        }
        configure(&configuration)
        db = try Database.temporary(configuration: configuration)
        try db.blocking.write { try $0.execute(schema) }
        reset()
    }

    /// Forgets the statements recorded so far.
    func reset() { log.lines.withLock { $0.removeAll() } }

    /// The data-changing statements recorded since the last reset, without pragmas and metadata reads.
    var writes: [String] {
        log.lines.withLock { $0 }.filter {
            $0.hasPrefix("INSERT") || $0.hasPrefix("UPDATE") || $0.hasPrefix("DELETE")
        }
    }

    /// Every statement recorded since the last reset.
    var all: [String] { log.lines.withLock { $0 } }

    func count(_ table: String) throws -> Int64 {
        try db.blocking.read { try $0.scalar("SELECT count(*) FROM \(table)").integerValue ?? -1 }
    }

    func integrity() throws -> String {
        try db.blocking.read { try $0.scalar("PRAGMA integrity_check").textValue ?? "" }
    }
}
