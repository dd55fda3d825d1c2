import Foundation
import Logging
import Synchronization

@testable import Docket

// Test-only writers built on the encoder under test. The unit of work (another branch) will own
// inserts and updates; until then these let the mapping tests put models into real tables.
extension Connection {
    /// `INSERT INTO "table" (columns…) VALUES (?…)` with the model's encoded values; a generated
    /// primary key that is still unset is left out so that SQLite assigns it. Returns the rowid.
    @discardableResult
    func insertModel<M: Model>(_ model: M) throws -> Int64 {
        let encoder = ModelEncoder<M>()
        let row = try encoder.encode(model)
        var columns: [String] = []
        var values: [DatabaseValue] = []
        for (slot, column) in encoder.columns.enumerated() {
            if column == M.primaryKeyColumn && model.id.isUnset { continue }
            columns.append(quoteIdentifier(column))
            values.append(row[slot])
        }
        let placeholders = Array(repeating: "?", count: values.count).joined(separator: ", ")
        try execute(
            "INSERT INTO \(quoteIdentifier(M.tableName)) (\(columns.joined(separator: ", "))) VALUES (\(placeholders))",
            values)
        return lastInsertRowID
    }

    /// `UPDATE "table" SET column = ?, … WHERE "id" = ?` with every encoded column.
    func updateModel<M: Model>(_ model: M) throws {
        let encoder = ModelEncoder<M>()
        let row = try encoder.encode(model)
        var assignments: [String] = []
        var values: [DatabaseValue] = []
        for (slot, column) in encoder.columns.enumerated() where column != M.primaryKeyColumn {
            assignments.append("\(quoteIdentifier(column)) = ?")
            values.append(row[slot])
        }
        values.append(try M.encodeKey(model.id))
        try execute(
            "UPDATE \(quoteIdentifier(M.tableName)) SET \(assignments.joined(separator: ", ")) WHERE "
                + "\(quoteIdentifier(M.primaryKeyColumn)) = ?", values)
    }
}

/// Captures every message logged through it: Docket logs each SQL statement at `.debug`, so tests
/// can assert on the SQL actually executed.
final class SQLLog: Sendable {
    // Locked, not Mutex: ThreadSanitizer cannot see Mutex's futexes and would report races.
    private let lines = Locked<[String]>([])

    var statements: [String] { lines.withLock { $0 } }

    func count(of sql: String) -> Int { statements.filter { $0 == sql }.count }

    var logger: Logger {
        Logger(label: "docket.tests") { _ in Handler(log: self) }
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let log: SQLLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { log.append("\(event.message)") }
    }
}

/// A thread-safe flag or counter for coordinating test tasks and Docket's threads.
final class Flag: Sendable {
    private let value = Atomic<Int>(0)
    func set() { value.store(1, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) != 0 }
    func increment() { value.add(1, ordering: .sequentiallyConsistent) }
    var count: Int { value.load(ordering: .sequentiallyConsistent) }
}

/// Waits (blocking the calling thread, which is always one Docket owns or a test thread) until
/// `condition` holds or `seconds` pass; returns whether it held.
@discardableResult
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() > deadline { return false }
        usleep(1000)
    }
    return true
}

/// A `DatabaseError`'s or `MappingError`'s message, or the error's description.
func message(of error: any Error) -> String {
    if let error = error as? MappingError { return error.message }
    if let error = error as? DatabaseError { return error.message }
    return "\(error)"
}
