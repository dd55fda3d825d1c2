import Foundation

/// Queues inserts, updates and deletes, and commits them in one transaction, ordered by the
/// foreign keys between them — in the spirit of SQLAlchemy's ORM session.
///
/// ```swift
/// let uow = UnitOfWork(database: db)
/// let author = uow.insert(Author(name: "Ursula K. Le Guin"))
/// uow.insert(Book(title: "The Dispossessed", pages: 387), linking: \.authorID, to: author)
/// var book = try await uow.find(Book.self, id: 7)!
/// book.pages += 1
/// uow.update(book)
/// try await uow.commit()
/// // BEGIN IMMEDIATE
/// // INSERT INTO "authors" ("id", "name") VALUES (?, ?)
/// // INSERT INTO "books" ("id", "author_id", "title", "pages") VALUES (?, ?, ?, ?)
/// // UPDATE "books" SET "pages" = ? WHERE "id" = ?
/// // COMMIT
/// ```
///
/// A unit of work belongs to one task or thread: it is deliberately not `Sendable`, so handing it
/// to another task does not compile. Get one per task from ``withUnitOfWork(_:scope:isolation:_:)``.
/// See `Docs/UnitOfWork.md`.
public final class UnitOfWork {
    /// The database the unit of work reads from and commits to.
    public let database: Database
    private var queue: [any QueuedChange] = []
    /// Queue position of the pending update of each row, so updating twice queues one update.
    private var queuedUpdates: [IdentityKey: Int] = [:]
    private var identityMap: [IdentityKey: IdentityEntry] = [:]

    /// A new, empty unit of work on `database`.
    public init(database: Database) {
        self.database = database
    }

    /// The number of queued changes.
    public var pendingChangeCount: Int { queue.count }
    /// `true` when changes are queued.
    public var hasChanges: Bool { !queue.isEmpty }

    // MARK: Queueing

    /// Queues an insert. Returns the handle that children link to and that holds the inserted
    /// value after the commit.
    @discardableResult
    public func insert<M: Model>(_ model: M) -> Inserted<M> {
        let handle = Inserted(model)
        queue.append(Queued(kind: .insert, model: model, handle: handle))
        return handle
    }

    /// Queues an insert whose foreign key `keyPath` is the key of `parent`, a queued insert whose
    /// key the database has not generated yet. The flush inserts the parent first and fills in the
    /// key; after the commit, the returned handle's value carries it too.
    ///
    /// ```swift
    /// let author = uow.insert(Author(name: "Le Guin"))
    /// uow.insert(Book(title: "Lavinia"), linking: \.authorID, to: author)
    /// ```
    @discardableResult
    public func insert<M: Model, P: Model, V: IntegerKeyValue>(
        _ model: M, linking keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) -> Inserted<M> {
        insert(model, links: [link(keyPath, to: parent)])
    }

    /// Queues an insert with two linked foreign keys (e.g. an order line's order and book).
    @discardableResult
    public func insert<M: Model, P1: Model, V1: IntegerKeyValue, P2: Model, V2: IntegerKeyValue>(
        _ model: M, linking keyPath1: WritableKeyPath<M, V1>, to parent1: Inserted<P1>,
        _ keyPath2: WritableKeyPath<M, V2>, to parent2: Inserted<P2>
    ) -> Inserted<M> {
        insert(model, links: [link(keyPath1, to: parent1), link(keyPath2, to: parent2)])
    }

    private func insert<M: Model>(_ model: M, links: [Link<M>]) -> Inserted<M> {
        var model = model
        var pending: [Link<M>] = []
        for link in links {
            // A parent already committed has its key: set it now, nothing to wait for.
            if let key = link.parent.committedKey { link.set(&model, key) } else { pending.append(link) }
        }
        let handle = Inserted(model)
        queue.append(Queued(kind: .insert, model: model, handle: handle, links: pending))
        return handle
    }

    /// Links a foreign key of an already queued insert to another queued insert, e.g. to close a
    /// cycle: `users.favorite_post_id` ↔ `posts.user_id`. The flush orders the two rows and, when
    /// they wait for each other, inserts the nullable side as NULL and sets it afterwards.
    ///
    /// ```swift
    /// let user = uow.insert(User(name: "ada"))
    /// let post = uow.insert(Post(title: "Hello"), linking: \.userID, to: user)
    /// uow.link(user, \.favoritePostID, to: post)
    /// // INSERT INTO "users" … (favorite_post_id NULL); INSERT INTO "posts" …;
    /// // UPDATE "users" SET "favorite_post_id" = ? WHERE "id" = ?
    /// ```
    public func link<M: Model, P: Model, V: IntegerKeyValue>(
        _ child: Inserted<M>, _ keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) {
        guard let queued = queue.lazy.compactMap({ $0 as? Queued<M> }).first(where: { $0.handle === child }) else {
            preconditionFailure("link(_:_:to:): the child is not an insert queued in this unit of work")
        }
        queued.links.append(link(keyPath, to: parent))
    }

    private func link<M: Model, P: Model, V: IntegerKeyValue>(
        _ keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) -> Link<M> {
        Link(
            codingKey: { try KeyPathColumn.codingKey(of: keyPath, sample: $0) },
            set: { $0[keyPath: keyPath] = V(integerKey: $1) },
            parent: ParentRef(parent))
    }

    /// Queues an update. For a row loaded through this unit of work, only the columns that differ
    /// from what was loaded are written, and a value with no net change writes nothing. Updating
    /// the same row again replaces the queued update.
    public func update<M: Model>(_ model: M) {
        let identity = IdentityKey(model)
        if let identity, var entry = identityMap[identity] {
            entry.model = model
            identityMap[identity] = entry
        }
        if let identity, let position = queuedUpdates[identity], let queued = queue[position] as? Queued<M> {
            queued.model = model
            return
        }
        if let identity { queuedUpdates[identity] = queue.count }
        queue.append(Queued(kind: .update, model: model))
    }

    /// Queues a delete by primary key (and version, for versioned models).
    public func delete<M: Model>(_ model: M) {
        if let identity = IdentityKey(model), let position = queuedUpdates.removeValue(forKey: identity) {
            // Deleting a row with a queued update: the update is moot.
            queue.remove(at: position)
            for (key, p) in queuedUpdates where p > position { queuedUpdates[key] = p - 1 }
        }
        queue.append(Queued(kind: .delete, model: model))
    }

    /// Queues an INSERT … ON CONFLICT. With `onConflict` empty, the conflict target is the primary
    /// key; otherwise the given columns (which need a UNIQUE index). `doNothing: false` updates every
    /// other column of the existing row; `true` leaves it as it is.
    ///
    /// ```swift
    /// uow.upsert(Customer(email: "ada@example.com", name: "Ada"), onConflict: ["email"])
    /// // INSERT INTO "customers" (…) VALUES (…) ON CONFLICT ("email") DO UPDATE SET "name" = excluded."name" RETURNING "id"
    /// ```
    @discardableResult
    public func upsert<M: Model>(_ model: M, onConflict columns: [String] = [], doNothing: Bool = false) -> Inserted<M>
    {
        let handle = Inserted(model)
        queue.append(
            Queued(kind: .upsert(conflictColumns: columns, doNothing: doNothing), model: model, handle: handle))
        return handle
    }

    /// Discards every queued change and forgets every loaded row.
    public func rollback() {
        queue.removeAll()
        queuedUpdates.removeAll()
        identityMap.removeAll()
    }

    // MARK: Nested scopes

    /// Runs `body` as a nested scope: if it throws, the changes it queued (and rows it loaded) are
    /// rolled back on their own and the error rethrown; the changes queued before it stay queued.
    ///
    /// A nested scope is a savepoint of the queue, not an open database transaction: Docket never
    /// holds the writer while application code runs, so one slow task cannot stall every other
    /// task's commit. At commit, everything still queued is flushed in one transaction.
    public func nested<T>(_ body: () throws -> T) rethrows -> T {
        let saved = (queue.count, queuedUpdates, identityMap, queue.map { $0.checkpoint() })
        do {
            return try body()
        } catch {
            restore(saved)
            throw error
        }
    }

    /// The async form of ``nested(_:)-(()->T)``.
    nonisolated(nonsending) public func nested<T>(_ body: () async throws -> T) async rethrows -> T {
        let saved = (queue.count, queuedUpdates, identityMap, queue.map { $0.checkpoint() })
        do {
            return try await body()
        } catch {
            restore(saved)
            throw error
        }
    }

    private func restore(_ saved: (Int, [IdentityKey: Int], [IdentityKey: IdentityEntry], [() -> Void])) {
        queue.removeSubrange(min(saved.0, queue.count)...)
        queuedUpdates = saved.1
        identityMap = saved.2
        for undo in saved.3 { undo() }
    }

    // MARK: Loading through the identity map

    /// The row with primary key `id`, from the identity map if this unit of work loaded it already
    /// (unless `refresh`), else from the database; it is then snapshotted for dirty tracking.
    nonisolated(nonsending) public func find<M: Model>(_ type: M.Type, id: M.ID, refresh: Bool = false) async throws
        -> M?
    {
        let key = try IdentityKey(table: M.tableName, key: M.encodeKey(id))
        if !refresh, let model = identityMap[key]?.model as? M { return model }
        guard let loaded = try await database.read({ try M.find(id, in: $0) }) else { return nil }
        return try register(loaded, refresh: refresh)
    }

    /// The blocking form of ``find(_:id:refresh:)-(M.Type,_,_)``, for thread-based code.
    public func find<M: Model>(_ type: M.Type, id: M.ID, refresh: Bool = false) throws -> M? {
        let key = try IdentityKey(table: M.tableName, key: M.encodeKey(id))
        if !refresh, let model = identityMap[key]?.model as? M { return model }
        guard let loaded = try database.read({ try M.find(id, in: $0) }) else { return nil }
        return try register(loaded, refresh: refresh)
    }

    /// The rows of a query, each through the identity map: a row already loaded comes back as the
    /// identity-map value (unless `refresh`).
    nonisolated(nonsending) public func fetch<M: Model>(_ query: Query<M>, refresh: Bool = false) async throws -> [M] {
        let loaded = try await database.read { try query.fetchAll($0) }
        return try registerAll(loaded, refresh: refresh)
    }

    /// The blocking form of ``fetch(_:refresh:)-(Query<M>,_)``.
    public func fetch<M: Model>(_ query: Query<M>, refresh: Bool = false) throws -> [M] {
        let loaded = try database.read { try query.fetchAll($0) }
        return try registerAll(loaded, refresh: refresh)
    }

    private func registerAll<M: Model>(_ models: [M], refresh: Bool) throws -> [M] {
        let encoder = ModelEncoder<M>()
        // Grow the identity map once, not by doubling (each doubling rehashes every entry).
        identityMap.reserveCapacity(identityMap.count + models.count)
        return try models.map { try register($0, refresh: refresh, encoder: encoder) }
    }

    private func register<M: Model>(_ model: M, refresh: Bool, encoder: ModelEncoder<M>? = nil) throws -> M {
        guard let key = IdentityKey(model) else { return model }
        if !refresh, let existing = identityMap[key]?.model as? M { return existing }
        let snapshot = try (encoder ?? ModelEncoder<M>()).encode(model).values
        identityMap[key] = IdentityEntry(model: model, snapshot: snapshot)
        return model
    }

    // MARK: Commit

    /// Flushes every queued change in one `BEGIN IMMEDIATE` transaction on the database's writer:
    /// all of it lands, or none of it.
    ///
    /// On failure the database is as it was, every change is still queued (fix and commit again,
    /// or ``rollback()``), and no model or handle carries a key from the rolled-back transaction.
    nonisolated(nonsending) public func commit() async throws {
        guard let batch = try prepareCommit() else { return }
        let changes = batch.changes
        let result = try await database.write { try FlushExecutor.flush(changes, on: $0) }
        finishCommit(batch, result)
    }

    /// The blocking form of ``commit()-1iyxw``, for thread-based code.
    public func commit() throws {
        guard let batch = try prepareCommit() else { return }
        let result = try database.write { try FlushExecutor.flush(batch.changes, on: $0) }
        finishCommit(batch, result)
    }

    /// The plan the next commit would run, without running it (it reads table metadata only).
    nonisolated(nonsending) public func plan() async throws -> FlushPlan {
        guard let batch = try prepareCommit() else { return FlushPlan(changes: [], steps: [], postUpdatedSlots: [:]) }
        let changes = batch.changes
        return try await database.read { db in
            var schema: [String: TableInfo] = [:]
            for table in Set(changes.map(\.table)) { schema[table] = try db.schemaCache.table(table, on: db) }
            return try FlushPlanner.plan(changes, schema: schema)
        }
    }

    private struct Batch {
        let entries: [any QueuedChange]
        let changes: [RowChange]
    }

    /// Encodes the queue on the caller's side, so the writer thread only binds and steps.
    private func prepareCommit() throws -> Batch? {
        guard !queue.isEmpty else { return nil }
        var context = EncodingContext(identityMap: identityMap)
        for (position, entry) in queue.enumerated() {
            if let handle = entry.handleObject { context.positions[ObjectIdentifier(handle)] = position }
        }
        var changes: [RowChange] = []
        changes.reserveCapacity(queue.count)
        for (position, entry) in queue.enumerated() {
            changes.append(try entry.encode(position: position, context: &context))
        }
        // Updates with no net change write nothing: when that is all there is, skip the write job.
        if changes.allSatisfy({ $0.kind == .update && FlushPlanner.changedSlots($0).isEmpty }) {
            queue.removeAll()
            queuedUpdates.removeAll()
            return nil
        }
        // A type's layout may have grown while its rows were encoded: pad earlier rows to it.
        for i in changes.indices {
            if let columns = context.finalColumns[changes[i].table + "\u{0}" + changes[i].model],
                columns.count > changes[i].columns.count
            {
                changes[i] = changes[i].padded(to: columns)
            }
        }
        return Batch(entries: queue, changes: changes)
    }

    private func finishCommit(_ batch: Batch, _ result: FlushResult) {
        // Every committed insert and update enters the identity map: grow it once, not by doubling.
        identityMap.reserveCapacity(identityMap.count + batch.entries.count)
        for (position, entry) in batch.entries.enumerated() {
            entry.apply(result, change: batch.changes[position], identityMap: &identityMap)
        }
        queue.removeAll()
        queuedUpdates.removeAll()
    }
}

// MARK: - Queue entries

/// Where a model lives in the identity map: its table and its encoded primary key.
struct IdentityKey: Hashable {
    let table: String
    let key: DatabaseValue

    init(table: String, key: DatabaseValue) {
        self.table = table
        self.key = key
    }

    init?<M: Model>(_ model: M) {
        guard !model.id.isUnset, let key = try? M.encodeKey(model.id) else { return nil }
        self.init(table: M.tableName, key: key)
    }
}

struct IdentityEntry {
    var model: Any
    var snapshot: [DatabaseValue]
}

/// Per-commit encoding state: one encoder per model type, queue positions for links.
struct EncodingContext {
    var identityMap: [IdentityKey: IdentityEntry]
    var encoders: [ObjectIdentifier: AnyObject] = [:]
    var positions: [ObjectIdentifier: Int] = [:]
    var finalColumns: [String: [String]] = [:]

    mutating func encoder<M: Model>(for type: M.Type) -> ModelEncoder<M> {
        if let encoder = encoders[ObjectIdentifier(M.self)] as? ModelEncoder<M> { return encoder }
        let encoder = ModelEncoder<M>()
        encoders[ObjectIdentifier(M.self)] = encoder
        return encoder
    }
}

/// A queued change of some model type.
protocol QueuedChange: AnyObject {
    /// The ``Inserted`` handle of an insert or upsert, which children link to.
    var handleObject: AnyObject? { get }
    func encode(position: Int, context: inout EncodingContext) throws -> RowChange
    func apply(_ result: FlushResult, change: RowChange, identityMap: inout [IdentityKey: IdentityEntry])
    /// Captures the entry's mutable state; calling the result restores it (nested scopes).
    func checkpoint() -> () -> Void
}

/// A link from a queued child to a queued parent's generated key.
struct Link<M: Model> {
    let codingKey: (M) throws -> String
    let set: (inout M, Int64) -> Void
    let parent: ParentRef
}

/// A type-erased reference to an ``Inserted`` handle.
struct ParentRef {
    let object: AnyObject
    let label: () -> String
    let key: () -> Int64?
    let committed: () -> Bool

    init<P: Model>(_ handle: Inserted<P>) {
        object = handle
        label = { "\(P.self)" }
        key = {
            guard let id = try? P.encodeKey(handle.value.id) else { return nil }
            return id.integerValue
        }
        committed = { handle.isCommitted }
    }

    var committedKey: Int64? { committed() ? key() : nil }
}

final class Queued<M: Model>: QueuedChange {
    let kind: RowChange.Kind
    var model: M
    let handle: Inserted<M>?
    var links: [Link<M>]
    /// Which of `links` the last encoding turned into row links, in order.
    private var encodedLinks: [Int] = []

    init(kind: RowChange.Kind, model: M, handle: Inserted<M>? = nil, links: [Link<M>] = []) {
        self.kind = kind
        self.model = model
        self.handle = handle
        self.links = links
    }

    var handleObject: AnyObject? { handle }

    func checkpoint() -> () -> Void {
        let saved = model
        return { self.model = saved }
    }

    func encode(position: Int, context: inout EncodingContext) throws -> RowChange {
        let encoder = context.encoder(for: M.self)
        let modelName = typeName(M.self)
        let tableName = M.tableName
        // Only errors use the label: build it only then (it was a string per queued row).
        var label: String { "\(modelName) #\(position + 1)" }
        // A parent committed since this child was queued (by another unit of work) has its key now.
        links.removeAll { link in
            guard context.positions[ObjectIdentifier(link.parent.object)] == nil, let key = link.parent.committedKey
            else { return false }
            link.set(&model, key)
            return true
        }
        // Linked and version columns may encode as nil (and so be unknown to the layout) until set.
        let linkKeys = try links.map { try $0.codingKey(model) }
        let versionKey = try M.version.map { try KeyPathColumn.codingKey(of: $0, sample: model) }
        encoder.ensureKeys(linkKeys + (versionKey.map { [$0] } ?? []))
        let values = try encoder.encode(model).values
        let keys = encoder.keys
        let keySlot = keys.firstIndex(of: M.primaryKeyCodingKey)
        guard let keySlot else {
            throw MappingError(
                model: "\(M.self)", column: "\(M.tableName).\(M.primaryKeyColumn)",
                message: "\(M.self) does not encode its primary key \(M.primaryKeyCodingKey)")
        }
        let identity = IdentityKey(model)
        var snapshot: [DatabaseValue]?
        var encoded = values
        switch kind {
        case .update, .delete:
            guard identity != nil else { throw UnitOfWorkError.missingKey(change: label) }
            snapshot = identity.flatMap { context.identityMap[$0]?.snapshot }
            // A delete orders the flush by the row as stored, when it was loaded here.
            if case .delete = kind, let snapshot, snapshot.count <= encoded.count {
                for (slot, value) in snapshot.enumerated() { encoded[slot] = value }
            }
        case .insert, .upsert:
            break
        }
        var rowLinks: [RowChange.Link] = []
        encodedLinks = []
        for (i, link) in links.enumerated() {
            guard let parent = context.positions[ObjectIdentifier(link.parent.object)] else {
                throw UnitOfWorkError.missingParent(change: label, parent: link.parent.label())
            }
            guard let slot = encoder.keys.firstIndex(of: linkKeys[i]) else { continue }
            rowLinks.append(RowChange.Link(slot: slot, parent: parent))
            encodedLinks.append(i)
        }
        let versionSlot = versionKey.flatMap { encoder.keys.firstIndex(of: $0) }
        context.finalColumns[tableName + "\u{0}" + modelName] = encoder.columns
        return RowChange(
            index: position, kind: kind, table: tableName, model: modelName, columns: encoder.columns,
            values: encoded, snapshot: snapshot, keySlot: keySlot,
            generatesKey: model.id.isUnset && M.ID.generated(rowID: 1) != nil, links: rowLinks,
            versionSlot: versionSlot)
    }

    func apply(_ result: FlushResult, change: RowChange, identityMap: inout [IdentityKey: IdentityEntry]) {
        var model = self.model
        var values = change.values
        switch kind {
        case .insert, .upsert:
            if change.generatesKey, let key = result.keys[change.index], let id = M.ID.generated(rowID: key) {
                model.id = id
                values[change.keySlot] = .integer(key)
            }
            for (i, rowLink) in zip(encodedLinks, change.links) {
                if let key = result.keys[rowLink.parent] {
                    links[i].set(&model, key)
                    values[rowLink.slot] = .integer(key)
                }
            }
            links.removeAll()
            handle?.value = model
            handle?.isCommitted = true
            if case .upsert(_, true) = kind {
                // DO NOTHING may have kept a different row: do not snapshot what was not written.
            } else if let identity = IdentityKey(model) {
                identityMap[identity] = IdentityEntry(model: model, snapshot: values)
            }
        case .update:
            if let version = M.version, let newVersion = result.versions[change.index] {
                model[keyPath: version] = newVersion
                if let slot = change.versionSlot { values[slot] = .integer(Int64(newVersion)) }
            }
            if let identity = IdentityKey(model) {
                identityMap[identity] = IdentityEntry(model: model, snapshot: values)
            }
        case .delete:
            if let identity = IdentityKey(model) { identityMap.removeValue(forKey: identity) }
        }
        self.model = model
    }
}

extension RowChange {
    /// The same change with its row widened to `columns` (absent values are NULL).
    func padded(to columns: [String]) -> RowChange {
        var values = self.values
        values.append(contentsOf: repeatElement(.null, count: columns.count - values.count))
        return RowChange(
            index: index, kind: kind, table: table, model: model, columns: columns, values: values, snapshot: snapshot,
            keySlot: keySlot, generatesKey: generatesKey, links: links, versionSlot: versionSlot)
    }
}
