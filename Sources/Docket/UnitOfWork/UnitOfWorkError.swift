/// Errors of the unit of work that are not SQLite's own.
public enum UnitOfWorkError: Error, Sendable, CustomStringConvertible, Equatable {
    /// An update or delete found no row with the expected version (or, unversioned, no row at all):
    /// another commit changed or deleted it since it was loaded.
    case staleWrite(change: String, table: String, key: String, expectedVersion: Int?)
    /// A change links to a parent insert that is no longer queued.
    case missingParent(change: String, parent: String)
    /// A model's primary key is unset where a key is needed (update, delete, link).
    case missingKey(change: String)

    public var description: String {
        switch self {
        case .staleWrite(let change, let table, let key, let expected?):
            return "stale write: \(table) row \(key) (\(change)) is no longer at version \(expected): another commit "
                + "changed or deleted it since it was loaded. Nothing was written; reload it and apply the change again."
        case .staleWrite(let change, let table, let key, nil):
            return "stale write: \(table) has no row \(key) to update (\(change)): it was deleted or never existed. "
                + "Nothing was written."
        case .missingParent(let change, let parent):
            return "\(change) links to \(parent), which is no longer queued in this unit of work"
        case .missingKey(let change):
            return "\(change) has no primary key yet: insert it (and commit) before updating or deleting it"
        }
    }
}
