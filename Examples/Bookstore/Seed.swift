import Docket
import Foundation

/// What the orders can refer to: the books and customers one run seeded, with the stock each
/// book started with (the invariants compare it with the stock left).
struct Catalog: Sendable {
    struct Entry: Sendable {
        let id: Int64
        let price: Double
        let initialStock: Int
    }
    var books: [Entry]
    var customerIDs: [Int64]
}

/// Seeds authors, books and customers in one unit of work: one transaction, parents first.
///
/// Every run adds its own catalog, tagged so that ISBNs and e-mails stay unique when a database is
/// reused; orders only ever refer to the current run's books.
func seedCatalog(
    _ db: Database, books bookCount: Int, customers customerCount: Int, stock: Int, tag: String
) async throws -> Catalog {
    let authorNames = ["Ursula K. Le Guin", "Octavia E. Butler", "Italo Calvino", "Toni Morrison", "Stanisław Lem"]
    return try await withUnitOfWork(db) { uow in
        let authors = authorNames.map { uow.insert(Author(name: $0)) }
        var books: [Inserted<Book>] = []
        for number in 1...bookCount {
            let book = Book(
                title: "Volume \(number)", isbn: "978-\(tag)-\(number)", price: Double(5 + number % 20),
                stock: stock)
            // The author's key does not exist yet: the flush inserts the author first and fills
            // `author_id` in.
            books.append(try uow.insert(book, linking: \.authorID, to: authors[number % authors.count]))
        }
        let customers = (1...customerCount).map {
            uow.insert(Customer(email: "reader\($0)@\(tag).example", name: "Reader \($0)"))
        }
        try await uow.commit()  // the scope would commit on return too; here we need the keys now
        return Catalog(
            books: books.map { Catalog.Entry(id: $0.id!, price: $0.value.price, initialStock: $0.value.stock) },
            customerIDs: customers.map { $0.id! })
    }
}
