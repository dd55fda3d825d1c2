import Docket
import Foundation
import Testing

/// The built `bookstore` binary, run as a separate process with small numbers, as the README runs it.
@Suite(.serialized) struct BookstoreTests {
    @Test func givenANewDatabase_whenTheBookstoreRuns_thenItExits0AndReportsEveryOrderAndInvariant() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }

        let run = try bookstore(["--tasks", "8", "--orders", "5", "--database", folder.database])

        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("Migrations: applied 6 from "))
        #expect(run.stdout.contains(", up to 20261123120500_rebuild_books\n"))
        let report = try Report(run.stdout)
        #expect(report.requested == 40)
        #expect(report.committed + report.outOfStock + report.gaveUp == 40)
        #expect(report.committed > 0)
        #expect(report.commitsPerSecond > 0)
        #expect(report.p50 > 0 && report.p50 <= report.p99)
        #expect(report.passed.count == 4)
        #expect(
            report.passed.last
                == "every acknowledged order is in the database (\(report.committed) of \(report.committed))")
        #expect(report.failed.isEmpty)
        #expect(run.stderr.isEmpty)
    }

    @Test func givenADatabaseFromAnEarlierRun_whenTheBookstoreRunsAgain_thenItReusesItAndTheInvariantsStillHold() throws
    {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = try bookstore(["--tasks", "4", "--orders", "5", "--database", folder.database])
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")

        // No --migrations: the default folder is found from the current directory or the package.
        let second = try bookstore(["--tasks", "4", "--orders", "5", "--database", folder.database, "--seed", "2"])

        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
        #expect(second.stdout.contains("Migrations: already up to date"))
        let report = try Report(second.stdout)
        #expect(report.passed.count == 4)
        #expect(report.failed.isEmpty)
        let db = try Database(path: folder.database)
        defer { db.close() }
        let orders = try db.blocking.read { try $0.scalar("SELECT count(*) FROM orders") }
        let committed = try Report(first.stdout).committed + report.committed
        #expect(orders == .integer(Int64(committed)))
    }

    @Test func givenAnOrderLineWithNoOrder_whenTheBookstoreChecksTheInvariants_thenItNamesTheFailureAndExits1()
        throws
    {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(try bookstore(["--tasks", "1", "--orders", "1", "--database", folder.database]).status == 0)
        let db = try Database(path: folder.database)
        try db.blocking.writeWithoutTransaction { db in
            // Foreign keys off, as a buggy tool might have left the file.
            try db.execute("PRAGMA foreign_keys = OFF")
            try db.execute("INSERT INTO order_lines (order_id, book_id, quantity, unit_price) VALUES (424242, 1, 1, 1)")
            try db.execute("PRAGMA foreign_keys = ON")
        }
        db.close()

        let run = try bookstore(["--tasks", "2", "--orders", "2", "--database", folder.database])

        #expect(run.status == 1)
        let report = try Report(run.stdout)
        #expect(report.failed == ["every order line references an existing order and an existing book"])
        #expect(run.stdout.contains("1 order lines do not"))
        #expect(report.passed.count == 3)
    }
}

// MARK: Running the binary

/// The numbers and invariant lines of a run's report.
struct Report {
    var committed = 0
    var requested = 0
    var outOfStock = 0
    var gaveUp = 0
    var conflicts = -1
    var commitsPerSecond = -1.0
    var p50 = -1.0
    var p99 = -1.0
    var passed: [String] = []
    var failed: [String] = []

    init(_ stdout: String) throws {
        for line in stdout.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let numbers = line.split(whereSeparator: { !$0.isNumber && $0 != "." }).compactMap { Double($0) }
            if line.hasPrefix("orders committed:"), numbers.count == 4 {
                (committed, requested, outOfStock, gaveUp) =
                    (Int(numbers[0]), Int(numbers[1]), Int(numbers[2]), Int(numbers[3]))
            } else if line.hasPrefix("conflicts retried:"), let n = numbers.first {
                conflicts = Int(n)
            } else if line.hasPrefix("commits per second:"), let n = numbers.first {
                commitsPerSecond = n
            } else if line.hasPrefix("commit latency p50:"), numbers.count == 2 {
                p50 = numbers[1]
            } else if line.hasPrefix("commit latency p99:"), numbers.count == 2 {
                p99 = numbers[1]
            } else if line.hasPrefix("[ok] ") {
                passed.append(String(line.dropFirst(5)))
            } else if line.hasPrefix("[FAILED] ") {
                failed.append(String(line.dropFirst(9)))
            }
        }
        guard requested > 0, conflicts >= 0, commitsPerSecond >= 0, p50 >= 0, p99 >= 0 else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no report in:\n\(stdout)"])
        }
    }
}

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the `bookstore` binary that `swift test` built next to the test bundle, and waits for it.
func bookstore(_ arguments: [String]) throws -> ProcessResult {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        .appendingPathComponent("bookstore")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting, so a full pipe cannot block the child; stderr is small.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}

/// A fresh folder for one test's database, removed at the end.
struct TemporaryFolder {
    let url: URL
    var database: String { url.appendingPathComponent("bookstore.sqlite").path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("bookstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
