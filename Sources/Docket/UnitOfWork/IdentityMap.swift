/// The rows of one model type that a unit of work loaded, by encoded primary key.
///
/// Rows are kept as loaded — what the database holds, the snapshot dirty tracking compares with,
/// encoded only for rows that are updated — in one array. The value last passed to `update` is not
/// kept here: it is the queued update, which the unit of work's queue finds by key. Integer keys
/// (the common case) index a `[Int64: Int]`, which hashes faster than `DatabaseValue`; loading 100k
/// rows appends to arrays instead of copying each model into a dictionary entry. The dictionaries
/// map to integers only: they are then not generic, and run as fast code compiled once rather than
/// through the model type's metadata.
final class IdentityMap<M: Model> {
    private(set) var loaded: [M] = []
    private var integerSlots: [Int64: Int] = [:]
    private var otherSlots: [DatabaseValue: Int] = [:]

    /// Where the row with `key` is in `loaded`.
    func slot(_ key: DatabaseValue) -> Int? {
        if case .integer(let n) = key { return integerSlots[n] }
        return otherSlots[key]
    }

    /// The value loading the row again returns: its update queued in `queued`, else as loaded.
    func current(_ key: DatabaseValue, queued: ChangeQueue<M>?) -> M? {
        guard let slot = slot(key) else { return nil }
        if let queued, let row = queued.updateRows[key] { return queued.models[row] }
        return loaded[slot]
    }

    /// The row as loaded (the database's version of it).
    func loaded(_ key: DatabaseValue) -> M? { slot(key).map { loaded[$0] } }

    /// Remembers a loaded row; with `replace`, replaces what was known of it before.
    func insert(_ model: M, key: DatabaseValue, replace: Bool) {
        if let slot = slot(key) {
            guard replace else { return }
            loaded[slot] = model
            return
        }
        if case .integer(let n) = key { integerSlots[n] = loaded.count } else { otherSlots[key] = loaded.count }
        loaded.append(model)
    }

    /// Registers a loaded row: returns the identity-map value when the row is known already
    /// (unless `refresh`, which replaces it), else remembers and returns `model`.
    func register(_ model: M, key: DatabaseValue, refresh: Bool, queued: ChangeQueue<M>?) -> M {
        if !refresh, let existing = current(key, queued: queued) { return existing }
        insert(model, key: key, replace: refresh)
        return model
    }

    /// Registers rows loaded together, each under `key(i)` (`nil`: a row with no key, left out),
    /// and returns what `register` gives for each.
    func register(
        _ models: [M], refresh: Bool, queued: ChangeQueue<M>?, key: (Int) throws -> DatabaseValue?
    ) rethrows -> [M] {
        reserveCapacity(models.count)
        var result = models
        for i in models.indices {
            if let key = try key(i) {
                result[i] = register(models[i], key: key, refresh: refresh, queued: queued)
            }
        }
        return result
    }

    /// ``register(_:refresh:key:)`` for rows whose integer keys were read while loading them. Into
    /// an empty map (the usual first load) the rows are taken as one array, without copying a
    /// model at a time: `snapshot`, a copy of `models` made while decoding, else `models` itself
    /// (shared until the caller changes it).
    func register(
        _ models: [M], integerKeys keys: [Int64], snapshot: [M]? = nil, refresh: Bool, queued: ChangeQueue<M>?
    ) -> [M] {
        precondition(models.count == keys.count)
        if loaded.isEmpty, integerSlots.isEmpty, otherSlots.isEmpty {
            // Built in a local: each access to a class's stored property is an exclusivity check.
            var slots: [Int64: Int] = [:]
            slots.reserveCapacity(keys.count)
            var unique = true
            for (slot, key) in keys.enumerated() where slots.updateValue(slot, forKey: key) != nil {
                unique = false
                break
            }
            if unique {
                integerSlots = slots
                loaded = snapshot ?? models
                return models
            }
        }
        return register(models, refresh: refresh, queued: queued) { .integer(keys[$0]) }
    }

    func reserveCapacity(_ extra: Int) {
        loaded.reserveCapacity(loaded.count + extra)
        integerSlots.reserveCapacity(integerSlots.count + extra)
    }

    /// After a commit wrote them, these rows (by slot) are what the database holds. One call for
    /// all of a commit's rows: the array is taken out of the map, changed, and put back, so the
    /// loop pays no exclusivity check or copy-on-write check per row.
    func committed(_ models: [(model: M, slot: Int)]) {
        var loaded = self.loaded
        self.loaded = []
        for (model, slot) in models { loaded[slot] = model }
        self.loaded = loaded
    }

    func remove(_ key: DatabaseValue) {
        if case .integer(let n) = key {
            integerSlots.removeValue(forKey: n)
        } else {
            otherSlots.removeValue(forKey: key)
        }
    }

    func copy() -> IdentityMap<M> {
        let copy = IdentityMap<M>()
        copy.loaded = loaded
        copy.integerSlots = integerSlots
        copy.otherSlots = otherSlots
        return copy
    }
}
