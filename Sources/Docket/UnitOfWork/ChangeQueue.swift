/// What a queued row does. `dropped` marks a queued update that a later delete made moot.
@usableFromInline enum ChangeKind: UInt8, Sendable {
    case dropped, insert, update, delete, upsert
}

/// The conflict clause of a queued upsert.
struct UpsertSpec: Sendable {
    let conflictColumns: [String]
    let doNothing: Bool
}

/// A queued change queue seen without its model type.
protocol AnyChangeQueue: AnyObject {
    var modelName: String { get }
    /// `ObjectIdentifier` of the model type: the key of its identity map.
    var modelTypeID: ObjectIdentifier { get }
    var isCommitted: Bool { get }
    /// The row's integer key once committed (or when supplied by the client), else `nil`.
    func integerKey(row: Int) -> Int64?
    /// The row's position in the unit of work's queue.
    func position(row: Int) -> Int32
    /// The position of row 0 while every row is an insert at consecutive positions, else `nil`.
    var uniformBase: Int32? { get }
    var liveCount: Int { get }
    /// A `Sendable` copy of the queue for the writer, with links resolved to dense change indexes.
    func payload(dense: ChangeIndexMap, identity: AnyObject?, skipping noops: Set<Int>) throws -> any FlushBatch
    /// Writes keys, linked keys and versions back after a successful commit.
    func apply(_ result: FlushResult, dense: ChangeIndexMap, identity: AnyObject?)
    /// Marks the queue as no longer part of its unit of work, unless it was committed.
    func markDiscarded(_ reason: InvalidHandle.Reason)
    /// The state to restore when a nested scope fails.
    func checkpoint() -> () -> Void
    /// Rows whose queued update changes nothing (compared with the row as loaded).
    func noopUpdates(identity: AnyObject?) throws -> Set<Int>
    /// Marks the positions of the live rows not in `skipped` with ``ChangeQueueMark/live`` in
    /// `dense`.
    func markLive(in dense: inout [Int32], skipping skipped: Set<Int>)
}

enum ChangeQueueMark {
    /// A position to be numbered by `prepareCommit`.
    static let live: Int32 = -2
}

/// A link from a queued child row to the row whose generated key fills one of its columns.
/// Four integers, no reference: queueing 100k linked rows retains nothing per row.
@usableFromInline struct QueuedLink {
    @usableFromInline let row: Int32
    @usableFromInline let spec: Int32
    /// The parent's queue, as an index into the child queue's `parentQueues`.
    @usableFromInline let parentQueue: Int32
    @usableFromInline let parentRow: Int32

    @inlinable init(row: Int32, spec: Int32, parentQueue: Int32, parentRow: Int32) {
        self.row = row
        self.spec = spec
        self.parentQueue = parentQueue
        self.parentRow = parentRow
    }
}

/// How to fill one linked property: its coding key (found once per key path) and its setter.
@usableFromInline final class LinkSpec<M: Model> {
    @usableFromInline let keyPath: PartialKeyPath<M>
    @usableFromInline let set: (inout M, Int64) -> Void
    private let findKey: (M) throws -> String
    private var codingKey: String?

    @usableFromInline init<V: IntegerKeyValue>(_ keyPath: WritableKeyPath<M, V>) {
        self.keyPath = keyPath
        self.set = { $0[keyPath: keyPath] = V(integerKey: $1) }
        self.findKey = { try KeyPathColumn.codingKey(of: keyPath, sample: $0) }
    }

    func key(sample: M) throws -> String {
        if let codingKey { return codingKey }
        let key = try findKey(sample)
        codingKey = key
        return key
    }
}

/// Every queued change of one model type in one unit of work, in flat arrays: queueing a row
/// appends the model and allocates nothing of its own (``RowBook`` keeps kinds and positions in
/// two numbers while the rows are consecutive inserts).
///
/// Queueing is `@inlinable`, down to the appends: it then runs specialized for the caller's model
/// type, without the run-time metadata look-ups generic code pays on every array append.
@usableFromInline final class ChangeQueue<M: Model>: AnyChangeQueue {
    @usableFromInline var models: [M] = []
    @usableFromInline var book = RowBook()
    @usableFromInline var links: [QueuedLink] = []
    /// The queues that `links` point into (each an `AnyChangeQueue`; stored as `AnyObject` so
    /// that inlinable queueing code can append to it).
    @usableFromInline var parentQueues: [AnyObject] = []

    /// `parentQueues` as change queues: cast once per commit, not per link.
    private var parentChangeQueues: [any AnyChangeQueue] { parentQueues.map { $0 as! any AnyChangeQueue } }
    @usableFromInline var linkSpecs: [LinkSpec<M>] = []
    var upserts: [Int: UpsertSpec] = [:]
    /// The row of each queued update, by encoded key: updating a row twice queues one update.
    var updateRows: [DatabaseValue: Int] = [:]
    @usableFromInline private(set) var isCommitted = false
    @usableFromInline var liveCount = 0
    /// Bumped each time a failed nested scope cuts rows off the end of the queue: a handle made at
    /// an earlier generation may point at a row number that a later insert reuses.
    @usableFromInline private(set) var generation: Int32 = 0
    /// Each cut: the generation it started, the rows kept, and the rows cut (so that their handles
    /// still read the value they queued).
    @usableFromInline private(set) var truncations: [(generation: Int32, kept: Int, tail: [M])] = []
    /// `true` once a failed nested scope cut rows off the queue.
    @inlinable var hasTruncations: Bool { !truncations.isEmpty }
    /// Why the queue is no longer part of its unit of work, when it was discarded uncommitted.
    var discarded: InvalidHandle.Reason?

    let access: RowAccess<M>

    @usableFromInline init(access: RowAccess<M>) {
        self.access = access
    }

    var modelName: String { typeName(M.self) }
    var modelTypeID: ObjectIdentifier { ObjectIdentifier(M.self) }

    @inlinable func append(_ model: M, kind: ChangeKind, position: Int32) -> Int {
        models.append(model)
        book.append(kind, position: position)
        liveCount += 1
        return models.count - 1
    }

    /// Queues `newModels` as inserts at consecutive positions from `position`; returns the first
    /// row. Into an empty queue the array is taken as it is: its storage is shared with the
    /// caller's, not copied.
    @inlinable func appendInserts(_ newModels: [M], position: Int32) -> Int {
        let first = models.count
        if models.isEmpty {
            models = newModels
        } else {
            models.append(contentsOf: newModels)
        }
        book.appendInserts(newModels.count, position: position)
        liveCount += newModels.count
        return first
    }

    /// Marks the queue as no longer part of its unit of work (unless it was committed).
    func markDiscarded(_ reason: InvalidHandle.Reason) {
        if !isCommitted, discarded == nil { discarded = reason }
    }

    func drop(row: Int) {
        if book.kind(row) != .dropped { liveCount -= 1 }
        book.setKind(.dropped, row: row)
    }

    /// The index of the spec for `keyPath`, added on first use (compared by key-path equality).
    @inlinable func linkSpec<V: IntegerKeyValue>(_ keyPath: WritableKeyPath<M, V>) -> Int {
        // Identity first: a key-path literal is one object per call site, and `==` compares components.
        if let index = linkSpecs.firstIndex(where: { $0.keyPath === keyPath }) { return index }
        if let index = linkSpecs.firstIndex(where: { $0.keyPath == keyPath }) { return index }
        linkSpecs.append(LinkSpec(keyPath))
        return linkSpecs.count - 1
    }

    @usableFromInline func integerKey(row: Int) -> Int64? { access.integerKey(models, row) }

    /// The cut that removed `row` from under a handle made at `generation`, if any.
    private func truncation(row: Int, generation: Int32) -> (kept: Int, tail: [M])? {
        for cut in truncations where cut.generation > generation && row >= cut.kept { return (cut.kept, cut.tail) }
        return nil
    }

    /// Why a handle to `row` made at `generation` no longer names a queued row, or `nil` when it
    /// does (or did, and is committed).
    @usableFromInline func problem(row: Int, generation: Int32) -> InvalidHandle.Reason? {
        if !truncations.isEmpty, truncation(row: row, generation: generation) != nil { return .nestedScopeFailed }
        if row < 0 || row >= models.count { return .beyondQueue }
        return discarded
    }

    /// The values of `rows` for handles made at `generation` (see ``value(row:generation:)``).
    func values(_ rows: Range<Int>, generation: Int32) -> [M] {
        if truncations.isEmpty, rows.upperBound <= models.count { return Array(models[rows]) }
        return rows.compactMap { value(row: $0, generation: generation) }
    }

    /// The value a handle to `row` made at `generation` reads: the queued (or committed) model,
    /// or the model it queued before a failed nested scope cut it.
    func value(row: Int, generation: Int32) -> M? {
        if !truncations.isEmpty, let cut = truncation(row: row, generation: generation) {
            return cut.tail[row - cut.kept]
        }
        return row >= 0 && row < models.count ? models[row] : nil
    }

    @usableFromInline func position(row: Int) -> Int32 { book.position(row) }

    var uniformBase: Int32? { book.isUniform ? book.base : nil }

    /// Links `row`'s property `spec` to the generated key of `parentRow` of `parent`.
    @inlinable func addLink<P: Model>(row: Int, spec: Int, to parent: ChangeQueue<P>, parentRow: Int) {
        let queue: Int
        if let last = parentQueues.last, last === parent {
            queue = parentQueues.count - 1
        } else if let known = parentQueues.firstIndex(where: { $0 === parent }) {
            queue = known
        } else {
            parentQueues.append(parent)
            queue = parentQueues.count - 1
        }
        links.append(
            QueuedLink(
                row: Int32(truncatingIfNeeded: row), spec: Int32(truncatingIfNeeded: spec),
                parentQueue: Int32(truncatingIfNeeded: queue), parentRow: Int32(truncatingIfNeeded: parentRow)))
    }

    func markLive(in dense: inout [Int32], skipping skipped: Set<Int>) {
        for row in 0..<book.count where book.kind(row) != .dropped && (skipped.isEmpty || !skipped.contains(row)) {
            dense[Int(book.position(row))] = ChangeQueueMark.live
        }
    }

    /// Links are walked in row order; `link(_:_:to:)` may add one for an earlier row.
    private func sortLinks() {
        for i in links.indices.dropFirst() where links[i - 1].row > links[i].row {
            links.sort { $0.row < $1.row }
            return
        }
    }

    /// The encodings made to find no-op updates, kept for the writer so it does not encode again.
    private var encodedUpdates: [Int: EncodedUpdate] = [:]

    func noopUpdates(identity: AnyObject?) throws -> Set<Int> {
        // Every commit starts here, for every queue: nothing from an earlier, failed commit is kept.
        encodedUpdates.removeAll()
        flushedLinks = []
        guard !updateRows.isEmpty, let identity else { return [] }
        let map = unsafeDowncast(identity, to: IdentityMap<M>.self)
        let encoder = ModelEncoder<M>()
        var noops: Set<Int> = []
        // An update linked to a queued parent changes its foreign key to a key not known yet.
        let linked = links.isEmpty ? [] : Set(links.map { Int($0.row) })
        // `updateRows` holds every queued update with a key, already encoded by `update`; one
        // without a key was not loaded, so it has no snapshot to compare with.
        for (key, row) in updateRows {
            guard let slot = map.slot(key) else { continue }
            let before = try encoder.encode(map.loaded, row: slot, with: access)
            let after = try encoder.encode(models, row: row, with: access)
            if after == before, !linked.contains(row) {
                noops.insert(row)
            } else {
                encodedUpdates[row] = EncodedUpdate(values: after, snapshot: before, slot: slot)
            }
        }
        return noops
    }

    func checkpoint() -> () -> Void {
        let saved = (models, book, links, parentQueues, upserts, updateRows, liveCount)
        return { [self] in
            // Rows queued inside the failed scope are cut; their handles must not name the rows that
            // later inserts put at the same row numbers.
            if models.count > saved.0.count {
                generation += 1
                truncations.append((generation, saved.0.count, Array(models[saved.0.count...])))
            }
            (models, book, links, parentQueues, upserts, updateRows, liveCount) = saved
        }
    }

    /// The links the last payload resolved to parents in the same commit: `apply` writes their
    /// keys back from these, without resolving each parent's queue again.
    private var flushedLinks: [BatchLink] = []

    func payload(dense: ChangeIndexMap, identity: AnyObject?, skipping noops: Set<Int>) throws -> any FlushBatch {
        // Written so that generic code looks up few types' metadata at run time: each look-up is a
        // hash-table probe, and small commits make one payload per model type.
        var map: IdentityMap<M>?
        // The identity map of `M`'s type identifier is an `IdentityMap<M>` (see `identityMap(for:)`).
        if let identity { map = unsafeDowncast(identity, to: IdentityMap<M>.self) }
        var snapshots = [Int: M]()
        var resolvedLinks: [BatchLink] = []
        resolvedLinks.reserveCapacity(links.count)
        sortLinks()
        var book = self.book
        for row in noops { book.setKind(.dropped, row: row) }
        let parentQueues = parentChangeQueues
        // A bulk insert's parents are consecutive inserts: their positions are `base + row` with no
        // call through the parent queue's existential per link.
        let uniformBases = parentQueues.map { $0.uniformBase }
        for link in links where book.kind(Int(link.row)) != .dropped {
            let (row, parent, parentRow) = (Int(link.row), parentQueues[Int(link.parentQueue)], Int(link.parentRow))
            let position =
                uniformBases[Int(link.parentQueue)].map { $0 + Int32(parentRow) } ?? parent.position(row: parentRow)
            if case let parentIndex = dense[Int(position)], parentIndex >= 0 {
                resolvedLinks.append(.init(row: row, spec: Int(link.spec), parent: Int(parentIndex)))
            } else if parent.isCommitted, let key = parent.integerKey(row: parentRow) {
                // Committed since this child was queued (by another commit): its key is known now.
                linkSpecs[Int(link.spec)].set(&models[row], key)
            } else {
                throw UnitOfWorkError.missingParent(
                    change: "\(modelName) #\(dense[Int(book.position(row))] + 1)", parent: parent.modelName)
            }
        }
        // A loaded row's update has its snapshot in `encodedUpdates` already; a delete checks the
        // version it was loaded with.
        if let map {
            for row in 0..<book.count where book.kind(row) == .delete {
                if let key = try? M.encodeKey(models[row].id), let loaded = map.loaded(key) {
                    snapshots[row] = loaded
                }
            }
        }
        // Linked properties' coding keys, needed only to bind links to parents in this commit.
        var linkKeys: [String] = []
        if !resolvedLinks.isEmpty {
            for spec in 0..<linkSpecs.count { linkKeys.append(try linkSpecs[spec].key(sample: models[0])) }
        }
        var versionKey: String?
        if let keyPath = M.version {
            versionKey = models.isEmpty ? "" : try KeyPathColumn.codingKey(of: keyPath, sample: models[0])
        }
        flushedLinks = resolvedLinks
        return ModelBatch<M>(
            models: models, book: book, indexes: book.changeIndexes(dense), links: resolvedLinks,
            linkKeys: linkKeys, snapshots: snapshots, encodedUpdates: encodedUpdates, upserts: upserts,
            versionKey: versionKey, access: access)
    }

    func apply(_ result: FlushResult, dense: ChangeIndexMap, identity: AnyObject?) {
        let (book, access) = (self.book, self.access)
        // Keys first, in one pass over the models' storage (no access check or uniqueness check per row).
        models.withUnsafeMutableBufferPointer { models in
            for row in 0..<models.count where book.kind(row) == .insert || book.kind(row) == .upsert {
                let index = Int(dense[Int(book.position(row))])
                if index >= 0, let key = result.key(index) { access.setGenerated(&models[row], key) }
            }
        }
        // Then linked keys, from the links the payload resolved to parents in this commit, in the
        // same kind of pass (a bulk insert links every row).
        let (flushed, specs) = (flushedLinks, linkSpecs)
        models.withUnsafeMutableBufferPointer { models in
            for link in flushed where book.kind(link.row) != .delete && book.kind(link.row) != .dropped {
                if let key = result.key(link.parent) { specs[link.spec].set(&models[link.row], key) }
            }
        }
        flushedLinks = []
        isCommitted = true
        // Inserts only (the bulk case): nothing more to write back.
        guard !book.isUniform else { return }
        let map = identity.map { unsafeDowncast($0, to: IdentityMap<M>.self) }
        // A loaded row's update carries its identity-map slot (found by the no-op check).
        var committed: [(row: Int, slot: Int)] = []
        for row in 0..<models.count where book.kind(row) == .update || book.kind(row) == .delete {
            let index = Int(dense[Int(book.position(row))])
            guard index >= 0 else { continue }
            switch book.kind(row) {
            case .update:
                if let version = M.version, let newVersion = result.versions[index] {
                    models[row][keyPath: version] = newVersion
                }
                if let slot = encodedUpdates[row]?.slot { committed.append((row, slot)) }
            case .delete:
                if let map, let key = try? M.encodeKey(models[row].id) { map.remove(key) }
            default:
                break
            }
        }
        map?.committed(committed, of: models)
    }
}
