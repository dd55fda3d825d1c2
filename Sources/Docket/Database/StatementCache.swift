/// A bounded, least-recently-used cache of prepared statements for one connection.
///
/// Unbounded caches grow with every distinct SQL text an application builds (GRDB's does); this one
/// evicts the statement used longest ago once `capacity` is reached. Eviction is a linear scan, paid
/// only when a new statement is prepared past capacity, never on a cache hit. An entry is a class,
/// so a hit stamps its last use in place: one hash of the SQL text, not a second one to store it back.
struct StatementCache {
    private final class Entry {
        let statement: Statement
        var lastUse: UInt64
        init(statement: Statement, lastUse: UInt64) {
            self.statement = statement
            self.lastUse = lastUse
        }
    }
    private var entries: [String: Entry] = [:]
    private var clock: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { entries.count }

    mutating func statement(for sql: String) -> Statement? {
        clock &+= 1
        guard let entry = entries[sql] else { return nil }
        entry.lastUse = clock
        return entry.statement
    }

    mutating func insert(_ statement: Statement) {
        clock &+= 1
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries.removeValue(forKey: oldest.key)
        }
        entries[statement.sql] = Entry(statement: statement, lastUse: clock)
    }

    func contains(_ sql: String) -> Bool { entries[sql] != nil }

    mutating func removeAll() { entries.removeAll() }
}
