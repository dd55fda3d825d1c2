import Docket
import Foundation

/// What a customer asks for: one to three different books, one to three copies each.
struct OrderRequest: Sendable {
    struct Line: Sendable {
        let bookID: Int64
        let quantity: Int
    }
    let customerID: Int64
    let lines: [Line]
}

/// How placing one order ended.
enum Outcome: Sendable {
    /// Committed: the order's key is acknowledged to the caller.
    case placed(orderID: Int64, lines: [OrderRequest.Line], conflicts: Int, commitLatency: Duration)
    /// A book had too few copies left; nothing was written. A normal end for a shop, not an error.
    case outOfStock(conflicts: Int)
    /// Still conflicting after `maximumRetries` reloads; nothing was written.
    case gaveUp(conflicts: Int)
}

/// Places orders. Each order is one unit of work: insert the order and its lines, decrement the
/// stock of each book, commit. Stock uses optimistic concurrency, so when another task sold one of
/// the same books first the commit fails whole with `UnitOfWorkError.staleWrite`; the shop reloads
/// the books, takes the stock again and retries.
struct Shop: Sendable {
    let database: Database
    let maximumRetries: Int

    func place(_ request: OrderRequest) async throws -> Outcome {
        // The task's own unit of work, from the scoped registry. It is not Sendable: it cannot leak
        // to another task. Whatever is still queued when the body returns is committed.
        try await withUnitOfWork(database) { uow in
            guard let books = try await takeStock(for: request.lines, refresh: false) else {
                uow.rollback()
                return .outOfStock(conflicts: 0)
            }
            let prices = Dictionary(uniqueKeysWithValues: books.map { ($0.id!, $0.price) })
            let total = request.lines.reduce(0) { $0 + Double($1.quantity) * prices[$1.bookID]! }
            let order = uow.insert(Order(customerID: request.customerID, placedAt: Date(), total: total))
            for line in request.lines {
                // `order_id` is filled in by the flush, once the order has its key.
                let orderLine = OrderLine(bookID: line.bookID, quantity: line.quantity, unitPrice: prices[line.bookID]!)
                try uow.insert(orderLine, linking: \.orderID, to: order)
            }

            var conflicts = 0
            while true {
                let start = ContinuousClock.now
                do {
                    // BEGIN IMMEDIATE; INSERT INTO "orders" …; INSERT INTO "order_lines" … (×n);
                    // UPDATE "books" SET "stock" = ?, "version" = ? WHERE "id" = ? AND "version" = ? (×n); COMMIT
                    try await uow.commit()
                    let latency = ContinuousClock.now - start
                    return .placed(
                        orderID: order.id!, lines: request.lines, conflicts: conflicts, commitLatency: latency)
                } catch UnitOfWorkError.staleWrite {
                    // Nothing was written and everything is still queued. Reload the books and
                    // take the stock again: the new updates replace the queued ones.
                    conflicts += 1
                    guard conflicts <= maximumRetries else {
                        uow.rollback()
                        return .gaveUp(conflicts: conflicts)
                    }
                    // Back off a little, at random, so the tasks that lost this race do not all
                    // come back at once and collide again.
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...250 * min(conflicts, 8))))
                    guard try await takeStock(for: request.lines, refresh: true) != nil else {
                        uow.rollback()
                        return .outOfStock(conflicts: conflicts)
                    }
                }
            }
        }
    }

    /// Loads each book of the order and queues its stock decrement in the current task's unit of
    /// work; `nil` when a book has too few copies left. With `refresh`, the books are read again
    /// from the database instead of from the unit of work's identity map.
    private func takeStock(for lines: [OrderRequest.Line], refresh: Bool) async throws -> [Book]? {
        // Code deep in a call stack finds the scope's unit of work without it being passed along.
        guard let uow = UnitOfWork.current else { preconditionFailure("takeStock runs inside withUnitOfWork") }
        var books: [Book] = []
        for line in lines {
            guard var book = try await uow.find(Book.self, id: line.bookID, refresh: refresh),
                book.stock >= line.quantity
            else { return nil }
            book.stock -= line.quantity
            uow.update(book)  // UPDATE … WHERE "id" = ? AND "version" = <the version just loaded>
            books.append(book)
        }
        return books
    }
}
