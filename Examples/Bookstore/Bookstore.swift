import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `bookstore`: Docket's example application. Migrates a database, seeds a catalog, places orders
/// from many concurrent tasks with optimistic concurrency on the stock, reports, and checks the
/// invariants. `Docs/Examples.md` walks through it.
@main
struct BookstoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookstore",
        abstract: "Docket's example application: concurrent orders against a SQLite bookstore.",
        discussion: """
            Applies the migrations, seeds a catalog in one unit of work, then runs --tasks concurrent tasks that \
            each place --orders orders, every order in its own unit of work; stock is decremented with optimistic \
            concurrency and retried on conflict. Prints a report, then checks the invariants in the database.

            Exit status: 0 when every invariant holds; 1 when one fails (or on any other error).
            """
    )

    @Option(help: "The SQLite file: created when missing, reused when present. Default: a temporary file.")
    var database: String?

    @Option(help: "The folder of migration files. Default: ./Migrations, else the package's Migrations folder.")
    var migrations: String?

    @Option(help: "Concurrent tasks placing orders.")
    var tasks = 64

    @Option(help: "Orders each task places, one after another (in total: tasks × orders).")
    var orders = 20

    @Option(help: "Books in the catalog. Fewer books, more conflicts.")
    var books = 50

    @Option(help: "Copies of each book in stock when seeded.")
    var stock = 110

    @Option(help: "Conflicts an order may retry before it is given up.")
    var maxRetries = 100

    @Option(help: "Seed of the random orders.")
    var seed: UInt64 = 1

    func validate() throws {
        guard tasks > 0 else { throw ValidationError("--tasks must be at least 1.") }
        guard orders >= 0 else { throw ValidationError("--orders cannot be negative.") }
        guard books > 0 else { throw ValidationError("--books must be at least 1.") }
        guard stock >= 0 else { throw ValidationError("--stock cannot be negative.") }
        guard maxRetries >= 0 else { throw ValidationError("--max-retries cannot be negative.") }
    }

    func run() async throws {
        // 1. Open (or create) the database and bring its schema up to date.
        let db = try database.map { try Database(path: $0) } ?? Database.temporary()
        defer { db.close() }
        Console.line("Bookstore on \(db.path)")
        let folder = try migrations ?? Self.defaultMigrationsFolder()
        // The migrator is blocking: run it off the caller's executor.
        let applied = try await Task.detached { try Migrator(folder: folder).migrate(db) }.value
        Console.line(
            applied.isEmpty
                ? "Migrations: already up to date (\(folder))"
                : "Migrations: applied \(applied.count) from \(folder), up to \(applied.last!.id)")

        // 2. Seed a catalog in one unit of work.
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        let catalog = try await seedCatalog(db, books: books, customers: 50, stock: stock, tag: tag)
        Console.line("Seeded 5 authors, \(books) books (\(stock) copies each), 50 customers in one unit of work")

        // 3. Place orders from many tasks at once, showing progress.
        Console.line("Placing \(tasks) × \(orders) orders from \(tasks) concurrent tasks")
        let ledger = Ledger()
        let start = ContinuousClock.now
        let progress = Task { await showProgress(of: ledger, total: tasks * orders, since: start) }
        let shop = Shop(database: db, maximumRetries: maxRetries)
        do {
            try await runShoppers(
                tasks: tasks, orders: orders, shop: shop, catalog: catalog, seed: seed, ledger: ledger)
        } catch {
            progress.cancel()
            throw error
        }
        let elapsed = ContinuousClock.now - start
        progress.cancel()
        await progress.value

        // 4. Report.
        let tally = ledger.snapshot
        for line in report(tally, requested: tasks * orders, elapsed: elapsed) { Console.line(line) }

        // 5. Check the invariants in the database.
        Console.line("Invariants")
        let invariants = try await checkInvariants(db, catalog: catalog, acknowledged: tally.acknowledged)
        for invariant in invariants {
            Console.line("  [\(invariant.failure == nil ? "ok" : "FAILED")] \(invariant.name)")
            if let failure = invariant.failure { Console.line("           \(failure)") }
        }
        guard invariants.allSatisfy({ $0.failure == nil }) else { throw ExitCode.failure }
    }

    /// `./Migrations` when run from a folder that has one; else the `Migrations` folder of this
    /// package, found from this source file's path, so `swift run bookstore` works from anywhere
    /// in the repository.
    static func defaultMigrationsFolder(sourceFile: String = #filePath) throws -> String {
        let here = FileManager.default.currentDirectoryPath + "/Migrations"
        if FileManager.default.fileExists(atPath: here) { return here }
        let packageRoot = URL(fileURLWithPath: sourceFile)
            .deletingLastPathComponent()  // Bookstore
            .deletingLastPathComponent()  // Examples
            .deletingLastPathComponent()
        let packaged = packageRoot.appendingPathComponent("Migrations").path
        if FileManager.default.fileExists(atPath: packaged) { return packaged }
        throw ValidationError("No Migrations folder in \(here) or \(packaged); pass --migrations DIR.")
    }
}
