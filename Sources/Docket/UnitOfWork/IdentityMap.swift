/// The rows of one model type that a unit of work loaded, by encoded primary key.
///
/// Each entry keeps the model as loaded (what the database holds: the snapshot dirty tracking
/// compares with, encoded only for rows that are updated) and as last passed to `update` (what
/// loading it again returns).
final class IdentityMap<M: Model> {
    struct Entry {
        var loaded: M
        var current: M
    }
    var entries: [DatabaseValue: Entry] = [:]
}
