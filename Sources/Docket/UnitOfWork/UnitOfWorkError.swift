/// Errors of the unit of work that are not SQLite's own.
///
/// Every case carries structured fields to switch on, and reads as a sentence:
///
/// ```swift
/// do {
///     try await uow.commit()
/// } catch UnitOfWorkError.staleWrite(let stale) {
///     print(stale.table, stale.key, stale.columns)   // "counters", INTEGER 1, ["value"]
/// }
/// ```
public enum UnitOfWorkError: Error, Sendable, CustomStringConvertible, Equatable {
    /// An update or delete found its row changed or gone since it was loaded: another commit got
    /// there first. Nothing of the commit was written. See ``StaleWrite``.
    case staleWrite(StaleWrite)
    /// A change links to a parent insert that is no longer queued.
    case missingParent(change: String, parent: String)
    /// A model's primary key is unset where a key is needed (update, delete, link).
    case missingKey(change: String)
    /// A link names a child or parent handle that is not a row queued in this unit of work (see
    /// ``InvalidHandle``). Nothing was queued or linked.
    case invalidHandle(InvalidHandle)

    public var description: String {
        switch self {
        case .staleWrite(let stale): return stale.description
        case .missingParent(let change, let parent):
            return "\(change) links to \(parent), which is no longer queued in this unit of work"
        case .missingKey(let change):
            return "\(change) has no primary key yet: insert it (and commit) before updating or deleting it"
        case .invalidHandle(let invalid): return invalid.description
        }
    }
}

/// Which row a stale write found changed, and how.
public struct StaleWrite: Sendable, Equatable, CustomStringConvertible {
    /// What the database held instead of what the unit of work loaded.
    public enum Reason: Sendable, Equatable {
        /// The row's version column moved on (`found` is `nil` when it could not be read).
        case versionMoved(expected: Int, found: Int?)
        /// No row has the key any more (deleted, or never there).
        case rowMissing
        /// An unversioned row: another commit changed ``StaleWrite/columns`` since the load
        /// (compare-and-set on the changed columns).
        case columnsChanged
    }

    /// The queued change, e.g. `Counter #1 (id 1)`.
    public let change: String
    public let table: String
    /// The row's primary key.
    public let key: DatabaseValue
    /// The columns found changed: the version column, or the compared columns another commit
    /// changed. Empty for ``Reason/rowMissing``.
    public let columns: [String]
    /// Each of `columns` as the unit of work loaded it, in the same order.
    public let loaded: [DatabaseValue]
    /// Each of `columns` as the database holds it now, in the same order.
    public let current: [DatabaseValue]
    public let reason: Reason
    /// What the change was doing: "update" or "delete".
    public let verb: String

    public init(
        change: String, table: String, key: DatabaseValue, columns: [String] = [], loaded: [DatabaseValue] = [],
        current: [DatabaseValue] = [], reason: Reason, verb: String = "update"
    ) {
        self.verb = verb
        self.change = change
        self.table = table
        self.key = key
        self.columns = columns
        self.loaded = loaded
        self.current = current
        self.reason = reason
    }

    /// The version the change expected, for a versioned model.
    public var expectedVersion: Int? {
        if case .versionMoved(let expected, _) = reason { return expected }
        return nil
    }

    public var description: String {
        let retry =
            "Nothing was written; reload it and apply the change again (withUnitOfWork(db, retry: …) does that)."
        switch reason {
        case .versionMoved(let expected, let found):
            let now = found.map { " (it is at \($0))" } ?? ""
            return "stale write: \(table) row \(key.sqlLiteral) (\(change)) is no longer at version \(expected)\(now): "
                + "another commit changed or deleted it since it was loaded. " + retry
        case .rowMissing:
            return "stale write: \(table) has no row \(key.sqlLiteral) to \(verb) (\(change)): it was deleted or never "
                + "existed. Nothing was written."
        case .columnsChanged:
            let changes = zip(columns, zip(loaded, current)).map { column, values in
                "\(column) (loaded \(values.0.sqlLiteral), now \(values.1.sqlLiteral))"
            }
            return "stale write: \(table) row \(key.sqlLiteral) (\(change)): another commit changed "
                + changes.joined(separator: ", ") + " since it was loaded. " + retry
        }
    }
}

/// Why a handle passed to `insert(_:linking:to:)`, `link(_:_:to:)` or `update(_:linking:to:)`
/// cannot be linked.
public struct InvalidHandle: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        /// The handle's row was discarded by `rollback()`, or its unit of work committed or rolled
        /// back without it.
        case rolledBack = "it was discarded by rollback() (or its unit of work was cleared)"
        /// The handle's row was queued in a nested scope that failed, and was rolled back with it.
        case nestedScopeFailed = "it was queued in a nested scope that failed, and was rolled back with it"
        /// The handle belongs to another unit of work, and is not committed.
        case otherUnitOfWork = "it belongs to another unit of work and is not committed there"
        /// The handle's row is beyond this unit of work's queue.
        case beyondQueue = "its row is beyond this unit of work's queue"
        /// The child was committed already: its foreign key can no longer be filled in by a link
        /// (update it instead).
        case committed = "it was committed already; update the row instead"
    }

    /// The child row being linked, e.g. `Book #3` (a queued change) or `Book (being queued)`.
    public let child: String
    /// Which handle is at fault: `"parent"` or `"child"`.
    public let role: String
    /// The model of the handle at fault.
    public let model: String
    public let reason: Reason

    public var description: String {
        let head = "cannot link \(child): its \(role) handle (\(model)) "
        if reason == .committed {
            return head + "is no longer a queued insert: \(reason.rawValue). Nothing was linked."
        }
        return head + "is not a row queued in this unit of work: \(reason.rawValue). Nothing was linked; queue the "
            + "\(role) again in this unit of work, or commit it first."
    }
}
