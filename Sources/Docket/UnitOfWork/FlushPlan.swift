/// The ordered operations a commit runs: the output of the flush planner, the input of the flush
/// executor. It is plain data, so it can be printed, compared in tests without a database, and
/// executed by another backend.
///
/// ```swift
/// print(try await uow.plan())
/// // 1. INSERT INTO "authors" ("id", "name") — Author #2
/// // 2. INSERT INTO "books" ("id", "author_id", "title") — Book #1 (author_id ← key of #2)
/// ```
public struct FlushPlan: Sendable, CustomStringConvertible {
    /// One statement shape run for one or more rows, in order.
    public enum Step: Sendable, Hashable {
        /// Rows inserted with one cached statement. Slots in `postUpdatedSlots` are inserted as NULL
        /// and set by a later `.postUpdate` (a broken cycle).
        case insert(table: String, columns: [String], rows: [Int])
        /// One row's changed columns, and the slots of the row's values they are bound from.
        case update(table: String, columns: [String], slots: [Int], row: Int)
        /// Rows deleted by primary key.
        case delete(table: String, rows: [Int])
        /// INSERT … ON CONFLICT for one row.
        case upsert(table: String, columns: [String], row: Int)
        /// A foreign key set after both rows exist, breaking a cycle between them.
        case postUpdate(table: String, column: String, row: Int, parent: Int)
        /// A row's unique value set aside (to NULL or a temporary value) before another row takes
        /// it, breaking an exchange of unique values; the row's own update later writes its final
        /// value.
        case releaseUnique(table: String, column: String, row: Int, value: ReleaseValue)
    }

    /// What a unique value is set aside to.
    public enum ReleaseValue: Sendable, Hashable {
        /// NULL: never equal to another value in a unique index.
        case null
        /// A text no other row holds.
        case text(String)
        /// One less than the column's smallest value, read when the step runs.
        case integerBelowMinimum
    }

    /// The changes the steps refer to, by index.
    public let changes: [RowChange]
    /// The steps, in execution order.
    public let steps: [Step]
    /// Link slots inserted as NULL and filled by a post-update, per change index.
    public let postUpdatedSlots: [Int: Set<Int>]
    /// `true` when the order relies on foreign keys being checked at the end of the flush (a cycle
    /// was broken by dropping an edge between rows with known keys). Only then does the executor
    /// turn on `PRAGMA defer_foreign_keys`: like every flag pragma, it expires every prepared
    /// statement of the connection, which must then be compiled again.
    public var defersForeignKeys = false
    /// The slot each ``Step/releaseUnique(table:column:row:value:)`` set aside, by change index: the
    /// row's own update then no longer compares that column with its loaded value (the release
    /// did).
    public var releasedSlots: [Int: Set<Int>] = [:]

    /// `true` when there is nothing to run.
    public var isEmpty: Bool { steps.isEmpty }

    public var description: String {
        var lines: [String] = []
        for step in steps {
            switch step {
            case .insert(let table, let columns, let rows):
                let head =
                    "INSERT INTO \(quoteIdentifier(table)) (\(columns.map(quoteIdentifier).joined(separator: ", ")))"
                for row in rows { lines.append("\(head) — \(describe(row))") }
            case .update(let table, let columns, _, let row):
                lines.append(
                    "UPDATE \(quoteIdentifier(table)) SET \(columns.map(quoteIdentifier).joined(separator: ", ")) — \(describe(row))"
                )
            case .delete(let table, let rows):
                for row in rows { lines.append("DELETE FROM \(quoteIdentifier(table)) — \(describe(row))") }
            case .upsert(let table, let columns, let row):
                lines.append(
                    "UPSERT INTO \(quoteIdentifier(table)) (\(columns.map(quoteIdentifier).joined(separator: ", "))) — \(describe(row))"
                )
            case .releaseUnique(let table, let column, let row, _):
                lines.append(
                    "UPDATE \(quoteIdentifier(table)) SET \(quoteIdentifier(column)) — \(changes[row].label) (set aside: its value changes hands)"
                )
            case .postUpdate(let table, let column, let row, let parent):
                lines.append(
                    "UPDATE \(quoteIdentifier(table)) SET \(quoteIdentifier(column)) — \(changes[row].label) (← key of #\(parent + 1), post-update)"
                )
            }
        }
        return lines.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
    }

    private func describe(_ row: Int) -> String {
        let change = changes[row]
        var text = change.label
        let links = change.links.filter { !(postUpdatedSlots[row]?.contains($0.slot) ?? false) }
        if !links.isEmpty {
            text +=
                " (" + links.map { "\(change.columns[$0.slot]) ← key of #\($0.parent + 1)" }.joined(separator: ", ")
                + ")"
        }
        if let nulled = postUpdatedSlots[row], !nulled.isEmpty {
            text +=
                " [" + nulled.sorted().map { "\(change.columns[$0]) NULL until post-update" }.joined(separator: ", ")
                + "]"
        }
        return text
    }
}
