/// The rows of one model type that a unit of work loaded, by encoded primary key.
///
/// Rows are kept as loaded — what the database holds, the snapshot dirty tracking compares with,
/// encoded only for rows that are updated — in one array. The value last passed to `update` is not
/// kept here: it is the queued update, which the unit of work's queue finds by key. Integer keys
/// (the common case) go through ``IntegerSlots`` — an array when they are dense, a `[Int64: Int]`
/// otherwise — which is faster than hashing `DatabaseValue`s; loading 100k rows appends to arrays
/// instead of copying each model into a dictionary entry. The slot tables map to integers only:
/// they are then not generic, and run as fast code compiled once rather than through the model
/// type's metadata.
final class IdentityMap<M: Model> {
    private(set) var loaded: [M] = []
    private var integerSlots = IntegerSlots()
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
        if case .integer(let n) = key {
            integerSlots.set(loaded.count, for: n)
        } else {
            otherSlots[key] = loaded.count
        }
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
        _ models: [M], integerKeys keys: [Int64], snapshot: [M]?, refresh: Bool, queued: ChangeQueue<M>?
    ) -> [M] {
        precondition(models.count == keys.count)
        if loaded.isEmpty, integerSlots.isEmpty, otherSlots.isEmpty {
            // Keys that repeat (a query that returns a row twice) take the row-by-row path.
            if let slots = IntegerSlots(loading: keys) {
                integerSlots = slots
                loaded = snapshot ?? models
                return models
            }
        }
        return register(models, refresh: refresh, queued: queued) { .integer(keys[$0]) }
    }

    func reserveCapacity(_ extra: Int) {
        loaded.reserveCapacity(loaded.count + extra)
    }

    /// After a commit wrote them, these rows of `models` are what the database holds, each in its
    /// slot. One call for all of a commit's rows: the array is taken out of the map, changed, and
    /// put back, so the loop pays no exclusivity check or copy-on-write check per row.
    func committed(_ rows: [(row: Int, slot: Int)], of models: [M]) {
        guard !rows.isEmpty else { return }
        var loaded = self.loaded
        self.loaded = []
        for (row, slot) in rows { loaded[slot] = models[row] }
        self.loaded = loaded
    }

    func remove(_ key: DatabaseValue) {
        if case .integer(let n) = key {
            integerSlots.remove(n)
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

/// Slots by integer key. The keys of rows loaded together are usually dense (1…n): then an array
/// indexed by `key - base` replaces hashing, in a quarter of the memory. Keys outside that range
/// (or all keys, when they were sparse) go to a dictionary.
struct IntegerSlots {
    private var base: Int64 = 0
    /// Slot + 1 by `key - base`; 0 for none.
    private var dense: [Int32] = []
    private var sparse: [Int64: Int] = [:]

    init() {}

    /// Slots `0..<keys.count` for `keys`, in order; `nil` if a key repeats.
    init?(loading keys: [Int64]) {
        guard let low = keys.min(), let high = keys.max() else { return }
        let (span, overflow) = high.subtractingReportingOverflow(low)
        if !overflow, span < Int64(keys.count) * 2 + 1024, keys.count < Int(Int32.max) {
            base = low
            dense = [Int32](repeating: 0, count: Int(span) + 1)
            for (slot, key) in keys.enumerated() {
                let i = Int(key - low)
                if dense[i] != 0 { return nil }
                dense[i] = Int32(slot + 1)
            }
        } else {
            sparse.reserveCapacity(keys.count)
            for (slot, key) in keys.enumerated() where sparse.updateValue(slot, forKey: key) != nil { return nil }
        }
    }

    var isEmpty: Bool { dense.isEmpty && sparse.isEmpty }

    /// The index in `dense` of `key`, if it is in the dense range.
    private func denseIndex(_ key: Int64) -> Int? {
        let (i, overflow) = key.subtractingReportingOverflow(base)
        return !overflow && i >= 0 && i < dense.count ? Int(i) : nil
    }

    subscript(key: Int64) -> Int? {
        if let i = denseIndex(key) { return dense[i] > 0 ? Int(dense[i]) - 1 : nil }
        return sparse.isEmpty ? nil : sparse[key]
    }

    mutating func set(_ slot: Int, for key: Int64) {
        if let i = denseIndex(key) {
            dense[i] = Int32(slot + 1)
        } else {
            sparse[key] = slot
        }
    }

    mutating func remove(_ key: Int64) {
        if let i = denseIndex(key) {
            dense[i] = 0
        } else {
            sparse.removeValue(forKey: key)
        }
    }
}
