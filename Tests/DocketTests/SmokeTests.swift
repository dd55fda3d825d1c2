import Docket
import Foundation
import Testing

struct Book: Model, Equatable {
    var id: Int64?
    var title: String
    var pages: Int
}

@Test func givenATable_whenWritingAndReading_thenRowsComeBack() async throws {
    let db = try Database.temporary()
    try await db.write {
        try $0.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, pages INTEGER)")
    }
    try await db.write { try $0.execute("INSERT INTO books (title, pages) VALUES (?, ?)", ["Dune", 412]) }
    let books = try await db.read { try Book.fetchAll($0) }
    #expect(books == [Book(id: 1, title: "Dune", pages: 412)])
}
