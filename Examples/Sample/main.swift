import Docket
import Foundation

/// The smallest complete Docket program: define models, open a database, write through a unit of
/// work, read back. Run it with `swift run docket-sample`.
struct Author: Model {
    var id: Int64?
    var name: String
}

struct Book: Model {
    var id: Int64?
    var authorID: Int64?
    var title: String
    var published: Date
    static let columnNaming = ColumnNaming.snakeCase
}

let db = try Database.temporary()
try await db.write { db in
    try db.execute(
        """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                            title TEXT NOT NULL, published TEXT NOT NULL);
        """)
}

try await withUnitOfWork(db) { uow in
    let leGuin = uow.insert(Author(name: "Ursula K. Le Guin"))
    try uow.insert(
        Book(title: "A Wizard of Earthsea", published: Date(timeIntervalSince1970: -40_000_000)), linking: \.authorID,
        to: leGuin)
    try uow.insert(
        Book(title: "The Dispossessed", published: Date(timeIntervalSince1970: 136_000_000)), linking: \.authorID,
        to: leGuin)
}

let books = try await db.read { try Book.all().order("published").fetchAll($0) }
for book in books { print("\(book.id!): \(book.title) (author \(book.authorID!), published \(book.published))") }
guard books.count == 2, Set(books.map(\.authorID)).count == 1 else {
    print("unexpected result")
    exit(1)
}
db.close()
