import Docket

/// One invariant: what must hold, and whether it did (with the evidence when it did not).
struct Invariant {
    let name: String
    let failure: String?
}

/// Checks what must hold after the run, with SQL, in one read transaction (one snapshot):
/// stock never negative, stock sold equal to the order lines, no dangling order line, and every
/// acknowledged order in the database with its lines.
func checkInvariants(_ db: Database, catalog: Catalog, acknowledged: [Int64: [OrderRequest.Line]]) async throws
    -> [Invariant]
{
    let facts = try await db.read { db in
        let negative = try db.scalar("SELECT count(*) FROM books WHERE stock < 0").integer
        let dangling = try db.scalar(
            """
            SELECT count(*) FROM order_lines l
            LEFT JOIN orders o ON o.id = l.order_id
            LEFT JOIN books b ON b.id = l.book_id
            WHERE o.id IS NULL OR b.id IS NULL
            """
        ).integer
        // Stock left and copies on order lines, for each book of this run's catalog.
        let bookIDs = catalog.books.map(\.id)
        let stock = try db.fetchAll(
            """
            SELECT b.id, b.stock, (SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE book_id = b.id)
            FROM books b WHERE b.id IN (\(placeholders(bookIDs.count)))
            """, bookIDs
        ).map { (id: $0[0].integer, left: $0[1].integer, onLines: $0[2].integer) }
        // Every order of this run's customers, with its lines.
        let customerIDs = catalog.customerIDs
        var stored: [Int64: [OrderRequest.Line]] = [:]
        for row in try db.fetchAll(
            """
            SELECT o.id, l.book_id, l.quantity FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
            WHERE o.customer_id IN (\(placeholders(customerIDs.count)))
            """, customerIDs)
        {
            let lines = row[1].isNull ? [] : [OrderRequest.Line(bookID: row[1].integer, quantity: Int(row[2].integer))]
            stored[row[0].integer, default: []] += lines
        }
        return (negative: negative, dangling: dangling, stock: stock, stored: stored)
    }

    let initialStock = Dictionary(uniqueKeysWithValues: catalog.books.map { ($0.id, Int64($0.initialStock)) })
    let unitsSold = facts.stock.reduce(0) { $0 + $1.onLines }
    let mismatched = facts.stock.filter { initialStock[$0.id]! - $0.left != $0.onLines }.map {
        "book \($0.id) sold \(initialStock[$0.id]! - $0.left) copies but its order lines have \($0.onLines)"
    }
    let lost = acknowledged.filter { id, lines in
        facts.stored[id].map { Set($0.map(\.key)) != Set(lines.map(\.key)) } ?? true
    }.keys.sorted()
    let found = acknowledged.count - lost.count
    return [
        Invariant(
            name: "no stock is negative",
            failure: facts.negative == 0 ? nil : "\(facts.negative) books have a negative stock"),
        Invariant(
            name: "the stock sold equals the sum of the order lines (\(unitsSold) copies)",
            failure: mismatched.isEmpty ? nil : mismatched.joined(separator: "; ")),
        Invariant(
            name: "every order line references an existing order and an existing book",
            failure: facts.dangling == 0 ? nil : "\(facts.dangling) order lines do not"),
        Invariant(
            name: "every acknowledged order is in the database (\(found) of \(acknowledged.count))",
            failure: lost.isEmpty ? nil : "missing, or with other lines: orders \(lost)"),
    ]
}

/// `?, ?, …`: one bound parameter per value, never values interpolated into SQL.
private func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}

extension OrderRequest.Line {
    /// The line as a comparable value, to compare an order's lines in any order.
    fileprivate var key: String { "\(bookID)×\(quantity)" }
}

extension DatabaseValue {
    /// The value of an INTEGER column; these queries only read integers that cannot be NULL.
    fileprivate var integer: Int64 {
        guard case .integer(let value) = self else { preconditionFailure("expected an integer, got \(self)") }
        return value
    }
}
