import Docket
import Foundation

// The bookstore's models: one struct per table of `Migrations/`. Properties are columns;
// `ColumnNaming.snakeCase` maps `authorID` to `author_id`. Keys are `nil` until the database
// generates them at commit.

struct Author: Model {
    var id: Int64?
    var name: String
}

struct Book: Model {
    var id: Int64?
    var authorID: Int64 = 0
    var title: String
    var isbn: String
    var price: Double
    var stock: Int
    /// Optimistic concurrency: every update checks that the row is still at the version it was
    /// loaded at (`… WHERE id = ? AND version = ?`) and bumps it; a stale one fails the commit.
    var version: Int = 0

    static let columnNaming = ColumnNaming.snakeCase
    static var version: WritableKeyPath<Book, Int>? { \.version }
}

struct Customer: Model {
    var id: Int64?
    var email: String
    var name: String
}

struct Order: Model {
    var id: Int64?
    var customerID: Int64
    var placedAt: Date
    var total: Double

    static let columnNaming = ColumnNaming.snakeCase
}

struct OrderLine: Model {
    var id: Int64?
    var orderID: Int64 = 0
    var bookID: Int64
    var quantity: Int
    var unitPrice: Double

    static let columnNaming = ColumnNaming.snakeCase
}
