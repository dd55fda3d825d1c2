import Foundation

/// Queues inserts, updates and deletes, and commits them in one transaction, ordered by the
/// foreign keys between them — in the spirit of SQLAlchemy's ORM session.
///
/// ```swift
/// let uow = UnitOfWork(database: db)
/// let author = uow.insert(Author(name: "Ursula K. Le Guin"))
/// try uow.insert(Book(title: "The Dispossessed", pages: 387), linking: \.authorID, to: author)
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
    /// Queued changes, one queue per model type, in the order the types were first queued.
    private var queues: [any AnyChangeQueue] = []
    /// `ObjectIdentifier` of each queue's model type, by index in `queues`: a commit has a handful
    /// of queues, and a linear scan of integers beats hashing into a dictionary made per unit of work.
    private var queueTypes: [ObjectIdentifier] = []
    /// The next queue position (positions order changes across types; errors number them).
    @usableFromInline var nextPosition: Int32 = 0
    /// Loaded rows, one map per model type.
    private var identityMaps: [ObjectIdentifier: AnyObject] = [:]
    /// Commits so far: a nested scope that fails after one must not put back what it wrote.
    private var commitCount = 0

    /// A new, empty unit of work on `database`.
    public init(database: Database) {
        self.database = database
    }

    /// The number of queued changes.
    public var pendingChangeCount: Int { queues.reduce(0) { $0 + $1.liveCount } }
    /// `true` when changes are queued.
    public var hasChanges: Bool { queues.contains { $0.liveCount > 0 } }

    /// The queue used last: a bulk insert queues rows of one type after another, and a dictionary
    /// lookup plus a dynamic cast per row showed in profiles.
    @usableFromInline var lastQueue: (type: ObjectIdentifier, queue: AnyObject)?

    // Queueing is `@inlinable` (see `ChangeQueue`): it specializes for the caller's model types.
    @inlinable func queue<M: Model>(for type: M.Type) -> ChangeQueue<M> {
        if let lastQueue, lastQueue.type == ObjectIdentifier(M.self) {
            return unsafeDowncast(lastQueue.queue, to: ChangeQueue<M>.self)
        }
        return makeQueue(access: RowAccess<M>())
    }

    /// The queue of a model type other than the last one used, created on first use.
    @usableFromInline func makeQueue<M: Model>(access: RowAccess<M>) -> ChangeQueue<M> {
        let queue: ChangeQueue<M>
        if let known = queued(M.self) {
            queue = known
        } else {
            queue = ChangeQueue<M>(access: access)
            queueTypes.append(ObjectIdentifier(M.self))
            queues.append(queue)
        }
        lastQueue = (ObjectIdentifier(M.self), queue)
        return queue
    }

    /// `true` when `queue` is this unit of work's current queue for its model type.
    @inlinable func owns<M: Model>(_ queue: ChangeQueue<M>) -> Bool {
        if let lastQueue, lastQueue.queue === queue { return true }
        return isCurrentQueue(queue, of: ObjectIdentifier(M.self))
    }

    @usableFromInline func isCurrentQueue(_ queue: AnyObject, of type: ObjectIdentifier) -> Bool {
        guard let index = queueTypes.firstIndex(of: type) else { return false }
        return queue === queues[index]
    }

    /// This unit of work's queue for `M`, if it queued anything of that type: where a loaded row's
    /// queued update (its current value) is.
    private func queued<M: Model>(_ type: M.Type) -> ChangeQueue<M>? {
        guard let index = queueTypes.firstIndex(of: ObjectIdentifier(M.self)) else { return nil }
        // The queue at `index` was made for `M` (see `makeQueue`).
        return unsafeDowncast(queues[index] as AnyObject, to: ChangeQueue<M>.self)
    }

    private func identityMap<M: Model>(for type: M.Type) -> IdentityMap<M> {
        if let map = identityMaps[ObjectIdentifier(M.self)] as? IdentityMap<M> { return map }
        let map = IdentityMap<M>()
        identityMaps[ObjectIdentifier(M.self)] = map
        return map
    }

    @inlinable func enqueue<M: Model>(_ model: M, _ kind: ChangeKind) -> Inserted<M> {
        let queue = queue(for: M.self)
        let row = queue.append(model, kind: kind, position: nextPosition)
        nextPosition += 1
        return Inserted(queue: queue, row: row, generation: queue.generation)
    }

    // MARK: Queueing

    /// Queues an insert. Returns the handle that children link to and that holds the inserted
    /// value after the commit.
    @inlinable @discardableResult
    public func insert<M: Model>(_ model: M) -> Inserted<M> {
        enqueue(model, .insert)
    }

    /// Queues an insert of each model in `models`, in order: what `insert(_:)` in a loop does,
    /// without the loop's memory. Into a unit of work with no rows of this type queued yet, the
    /// array is shared with the caller, not copied, and the rows need no bookkeeping of their own:
    /// queueing a million rows this way costs (almost) no memory beyond the caller's array. Your
    /// array is never changed; once the commit writes the generated keys, the unit of work holds
    /// its own copy (no copy is made if your array is gone by then).
    ///
    /// ```swift
    /// let books: [Book] = try loadCatalogue()
    /// let rows = uow.insert(contentsOf: books)
    /// try await uow.commit()
    /// rows[0].id   // the key generated for books[0]
    /// ```
    @inlinable @discardableResult
    public func insert<M: Model>(contentsOf models: [M]) -> InsertedRows<M> {
        precondition(
            models.count <= Int(Int32.max - nextPosition),
            "insert(contentsOf:): more than \(Int32.max) changes queued in one unit of work")
        let queue = queue(for: M.self)
        let first = queue.appendInserts(models, position: nextPosition)
        nextPosition += Int32(models.count)
        return InsertedRows(queue: queue, rows: first..<first + models.count, generation: queue.generation)
    }

    /// Queues an insert of each model in `models`, each with its foreign key `keyPath` linked to the
    /// parent `parent(i)` returns for `models[i]`: a queued insert (or a committed one). What
    /// ``insert(_:linking:to:)`` in a loop does, at the cost per row of ``insert(contentsOf:)``:
    /// the array is shared with the caller as there, and each link is four integers.
    ///
    /// ```swift
    /// let authors = uow.insert(contentsOf: authorRows)
    /// try uow.insert(contentsOf: books, linking: \.authorID, to: { authors[authorIndex[$0]] })
    /// ```
    ///
    /// Throws ``UnitOfWorkError/invalidHandle(_:)``, and queues none of `models`, when a parent is
    /// not a row this unit of work can link to.
    @inlinable @discardableResult
    public func insert<M: Model, P: Model, V: IntegerKeyValue>(
        contentsOf models: [M], linking keyPath: WritableKeyPath<M, V>, to parent: (Int) throws -> Inserted<P>
    ) throws -> InsertedRows<M> {
        // Every parent is checked before anything is queued. Handles of one queue and generation
        // share the checks that do not depend on the row.
        var checked: (queue: ChangeQueue<P>, generation: Int32)?
        for i in models.indices {
            let handle = try parent(i)
            if let last = checked, last.queue === handle.queue, last.generation == handle.generation,
                !handle.queue.hasTruncations, handle.row >= 0, handle.row < handle.queue.models.count
            {
                continue
            }
            try check(handle, linkedBy: M.self)
            checked = (handle.queue, handle.generation)
        }
        let rows = insert(contentsOf: models)
        let queue = rows.queue
        let spec = queue.linkSpec(keyPath)
        queue.links.reserveCapacity(queue.links.count + models.count)
        for i in models.indices {
            let handle = try parent(i)
            if handle.queue.isCommitted, let key = handle.queue.integerKey(row: handle.row) {
                queue.linkSpecs[spec].set(&queue.models[rows.rows.lowerBound + i], key)
            } else {
                queue.addLink(row: rows.rows.lowerBound + i, spec: spec, to: handle.queue, parentRow: handle.row)
            }
        }
        return rows
    }

    /// ``insert(contentsOf:linking:to:)-(_,_,(Int)->Inserted<P>)`` with every model linked to one
    /// parent (an order's lines to the order, say).
    @inlinable @discardableResult
    public func insert<M: Model, P: Model, V: IntegerKeyValue>(
        contentsOf models: [M], linking keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) throws -> InsertedRows<M> {
        try insert(contentsOf: models, linking: keyPath, to: { _ in parent })
    }

    /// Queues an insert whose foreign key `keyPath` is the key of `parent`, a queued insert whose
    /// key the database has not generated yet. The flush inserts the parent first and fills in the
    /// key; after the commit, the returned handle's value carries it too.
    ///
    /// ```swift
    /// let author = uow.insert(Author(name: "Le Guin"))
    /// try uow.insert(Book(title: "Lavinia"), linking: \.authorID, to: author)
    /// ```
    ///
    /// Throws ``UnitOfWorkError/invalidHandle(_:)``, and queues nothing, when `parent` is not a row
    /// queued in this unit of work (or committed): a handle discarded by ``rollback()`` or by a
    /// failed nested scope, or one from another unit of work.
    @inlinable @discardableResult
    public func insert<M: Model, P: Model, V: IntegerKeyValue>(
        _ model: M, linking keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) throws -> Inserted<M> {
        try check(parent, linkedBy: M.self)
        let handle = enqueue(model, .insert)
        linkChecked(handle, keyPath, to: parent)
        return handle
    }

    /// Queues an insert with two linked foreign keys (e.g. an order line's order and book).
    @inlinable @discardableResult
    public func insert<M: Model, P1: Model, V1: IntegerKeyValue, P2: Model, V2: IntegerKeyValue>(
        _ model: M, linking keyPath1: WritableKeyPath<M, V1>, to parent1: Inserted<P1>,
        _ keyPath2: WritableKeyPath<M, V2>, to parent2: Inserted<P2>
    ) throws -> Inserted<M> {
        try check(parent1, linkedBy: M.self)
        try check(parent2, linkedBy: M.self)
        let handle = enqueue(model, .insert)
        linkChecked(handle, keyPath1, to: parent1)
        linkChecked(handle, keyPath2, to: parent2)
        return handle
    }

    /// Throws when `parent` cannot be linked to by a new `M` row (see ``InvalidHandle``).
    @inlinable func check<P: Model, M: Model>(_ parent: Inserted<P>, linkedBy child: M.Type) throws {
        if let reason = problem(with: parent) {
            throw Self.invalidHandle(child: M.self, position: nil, role: "parent", model: P.self, reason: reason)
        }
    }

    /// The error for a handle that cannot be linked; `position` is the child's queue position
    /// (`nil` for a child being queued).
    @usableFromInline static func invalidHandle(
        child: Any.Type, position: Int32?, role: String, model: Any.Type, reason: InvalidHandle.Reason
    ) -> UnitOfWorkError {
        let label = typeName(child) + (position.map { " #\($0 + 1)" } ?? " (being queued)")
        return .invalidHandle(InvalidHandle(child: label, role: role, model: typeName(model), reason: reason))
    }

    /// Why `handle` does not name a row of this unit of work that can be linked to, or `nil`. A
    /// committed row can be (its key is known), whichever unit of work committed it.
    @inlinable func problem<P: Model>(with handle: Inserted<P>) -> InvalidHandle.Reason? {
        let queue = handle.queue
        if let reason = queue.problem(row: handle.row, generation: handle.generation) { return reason }
        if queue.isCommitted { return nil }
        return owns(queue) ? nil : .otherUnitOfWork
    }

    /// Links a foreign key of an already queued insert to another queued insert, e.g. to close a
    /// cycle: `users.favorite_post_id` ↔ `posts.user_id`. The flush orders the two rows and, when
    /// they wait for each other, inserts the nullable side as NULL and sets it afterwards.
    ///
    /// ```swift
    /// let user = uow.insert(User(name: "ada"))
    /// let post = try uow.insert(Post(title: "Hello"), linking: \.userID, to: user)
    /// try uow.link(user, \.favoritePostID, to: post)
    /// // INSERT INTO "users" … (favorite_post_id NULL); INSERT INTO "posts" …;
    /// // UPDATE "users" SET "favorite_post_id" = ? WHERE "id" = ?
    /// ```
    ///
    /// Throws ``UnitOfWorkError/invalidHandle(_:)``, and links nothing, when `child` is not an
    /// uncommitted insert queued in this unit of work, or `parent` is not a row it can link to.
    @inlinable public func link<M: Model, P: Model, V: IntegerKeyValue>(
        _ child: Inserted<M>, _ keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) throws {
        if let reason = problem(with: child) ?? (child.queue.isCommitted ? .committed : nil) {
            // A row cut by a failed nested scope (or beyond the queue) has no position to name.
            let named = reason != .nestedScopeFailed && reason != .beyondQueue && child.row < child.queue.models.count
            throw Self.invalidHandle(
                child: M.self, position: named ? child.queue.position(row: child.row) : nil, role: "child",
                model: M.self, reason: reason)
        }
        if let reason = problem(with: parent) {
            throw Self.invalidHandle(
                child: M.self, position: child.queue.position(row: child.row), role: "parent", model: P.self,
                reason: reason)
        }
        linkChecked(child, keyPath, to: parent)
    }

    /// ``link(_:_:to:)`` once both handles were checked.
    @inlinable func linkChecked<M: Model, P: Model, V: IntegerKeyValue>(
        _ child: Inserted<M>, _ keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) {
        let queue = child.queue
        let spec = queue.linkSpec(keyPath)
        // A parent already committed has its key: set it now, nothing to wait for.
        if parent.queue.isCommitted, let key = parent.queue.integerKey(row: parent.row) {
            queue.linkSpecs[spec].set(&queue.models[child.row], key)
            return
        }
        queue.addLink(row: child.row, spec: spec, to: parent.queue, parentRow: parent.row)
    }

    /// Queues an update. For a row loaded through this unit of work, only the columns that differ
    /// from what was loaded are written, and a value with no net change writes nothing. Updating
    /// the same row again replaces the queued update.
    public func update<M: Model>(_ model: M) {
        let key = updateKey(model)
        let queue = queue(for: M.self)
        if let key, let row = queue.updateRows[key] {
            queue.models[row] = model
            return
        }
        let row = enqueue(model, .update).row
        if let key { queue.updateRows[key] = row }
    }

    /// Queues an update whose foreign key `keyPath` becomes the key of `parent`, a queued insert
    /// whose key the database has not generated yet: the row moves to a parent inserted in the
    /// same commit, atomically. The flush inserts the parent first; the update writes its key (and
    /// the columns that changed), and, for a loaded row, still checks what it changes.
    ///
    /// ```swift
    /// var book = try await uow.find(Book.self, id: 7)!
    /// let author = uow.insert(Author(name: "James Tiptree Jr."))
    /// try uow.update(book, linking: \.authorID, to: author)
    /// // INSERT INTO "authors" …; UPDATE "books" SET "author_id" = ? WHERE "id" = ? AND "author_id" IS ?
    /// ```
    ///
    /// Throws ``UnitOfWorkError/invalidHandle(_:)``, and queues nothing, when `parent` is not a row
    /// this unit of work can link to; ``UnitOfWorkError/missingKey(change:)`` when `model` has no key.
    public func update<M: Model, P: Model, V: IntegerKeyValue>(
        _ model: M, linking keyPath: WritableKeyPath<M, V>, to parent: Inserted<P>
    ) throws {
        try check(parent, linkedBy: M.self)
        guard let key = updateKey(model) else {
            throw UnitOfWorkError.missingKey(change: "\(typeName(M.self)) (being updated)")
        }
        update(model)
        let queue = queue(for: M.self)
        guard let row = queue.updateRows[key] else { return }
        let spec = queue.linkSpec(keyPath)
        if parent.queue.isCommitted, let parentKey = parent.queue.integerKey(row: parent.row) {
            queue.linkSpecs[spec].set(&queue.models[row], parentKey)
            return
        }
        queue.addLink(row: row, spec: spec, to: parent.queue, parentRow: parent.row)
    }

    /// Queues a delete by primary key (and version, for versioned models).
    public func delete<M: Model>(_ model: M) {
        let queue = queue(for: M.self)
        if let key = updateKey(model), let row = queue.updateRows.removeValue(forKey: key) {
            // Deleting a row with a queued update: the update is moot.
            queue.drop(row: row)
        }
        _ = enqueue(model, .delete)
    }

    /// The key a queued update of `model` is found by: its encoded primary key, if it has one.
    private func updateKey<M: Model>(_ model: M) -> DatabaseValue? {
        model.id.isUnset ? nil : try? M.encodeKey(model.id)
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
        let handle = enqueue(model, .upsert)
        handle.queue.upserts[handle.row] = UpsertSpec(conflictColumns: columns, doNothing: doNothing)
        return handle
    }

    /// Discards every queued change and forgets every loaded row. Handles of the discarded inserts
    /// keep the values they queued, are never committed, and cannot be linked to.
    public func rollback() {
        discardQueues(.rolledBack)
        identityMaps.removeAll()
    }

    /// Clears the queue, marking each uncommitted queue with why its handles are dead.
    private func discardQueues(_ reason: InvalidHandle.Reason) {
        for queue in queues { queue.markDiscarded(reason) }
        clearQueue()
    }

    private func clearQueue() {
        lastQueue = nil
        queues.removeAll()
        queueTypes.removeAll()
        nextPosition = 0
    }

    // MARK: Nested scopes

    /// Runs `body` as a nested scope: if it throws, the changes it queued (and rows it loaded) are
    /// rolled back on their own and the error rethrown; the changes queued before it stay queued.
    ///
    /// A nested scope is a savepoint of the queue, not an open database transaction: Docket never
    /// holds the writer while application code runs, so one slow task cannot stall every other
    /// task's commit. At commit, everything still queued is flushed in one transaction.
    public func nested<T>(_ body: () throws -> T) rethrows -> T {
        let restore = savepoint()
        do {
            return try body()
        } catch {
            restore()
            throw error
        }
    }

    /// The async form of ``nested(_:)-(()->T)``.
    nonisolated(nonsending) public func nested<T>(_ body: () async throws -> T) async rethrows -> T {
        let restore = savepoint()
        do {
            return try await body()
        } catch {
            restore()
            throw error
        }
    }

    /// Captures the queue and the identity maps; the result puts them back.
    ///
    /// When a commit ran inside the scope, what it wrote stays written: its rows are not queued
    /// again, and the identity maps keep the values it wrote (so that a later change back to a
    /// loaded value is still written). Only what was queued after that commit is discarded.
    private func savepoint() -> () -> Void {
        let saved = (queues, queueTypes, nextPosition, queues.map { $0.checkpoint() })
        let maps = identityMaps.mapValues { ($0 as? any IdentityMapCopying)?.copy() ?? $0 }
        let commits = commitCount
        return { [self] in
            guard commitCount == commits else {
                discardQueues(.nestedScopeFailed)
                return
            }
            // Queues first made inside the scope go with it.
            for queue in queues where !saved.0.contains(where: { $0 === queue }) {
                queue.markDiscarded(.nestedScopeFailed)
            }
            (queues, queueTypes, nextPosition) = (saved.0, saved.1, saved.2)
            lastQueue = nil
            for undo in saved.3 { undo() }
            identityMaps = maps
        }
    }

    // MARK: Loading through the identity map

    /// The row with primary key `id`, from the identity map if this unit of work loaded it already
    /// (unless `refresh`), else from the database; it is then remembered for dirty tracking.
    nonisolated(nonsending) public func find<M: Model>(_ type: M.Type, id: M.ID, refresh: Bool = false) async throws
        -> M?
    {
        let key = try M.encodeKey(id)
        let map = identityMap(for: M.self)
        if !refresh, let current = map.current(key, queued: queued(M.self)) { return current }
        guard let loaded = try await database.read({ try M.find(id, in: $0) }) else { return nil }
        return map.register(loaded, key: key, refresh: refresh, queued: queued(M.self))
    }

    /// The blocking form of ``find(_:id:refresh:)``: ``BlockingUnitOfWork/find(_:id:refresh:)``.
    fileprivate func findAndWait<M: Model>(_ type: M.Type, id: M.ID, refresh: Bool) throws -> M? {
        let key = try M.encodeKey(id)
        let map = identityMap(for: M.self)
        if !refresh, let current = map.current(key, queued: queued(M.self)) { return current }
        guard let loaded = try readAndWait({ try M.find(id, in: $0) }) else { return nil }
        return map.register(loaded, key: key, refresh: refresh, queued: queued(M.self))
    }

    /// Runs a blocking read: on the writer's connection when called inside a write job (so the read
    /// sees what the job wrote, and nothing can change under it before the job commits), else on a
    /// reader.
    private func readAndWait<T>(_ body: (Connection) throws -> T) throws -> T {
        if let writer = database.currentWriterConnection { return try body(writer) }
        return try database.blocking.read(body)
    }

    /// The rows of a query, each through the identity map: a row already loaded comes back as the
    /// identity-map value (unless `refresh`).
    nonisolated(nonsending) public func fetch<M: Model>(_ query: Query<M>, refresh: Bool = false) async throws -> [M] {
        let (loaded, keys, snapshot) = try await database.read { try query.fetchAllWithKeys($0) }
        return try registerAll(loaded, keys: keys, snapshot: snapshot, refresh: refresh)
    }

    /// The blocking form of ``fetch(_:refresh:)``: ``BlockingUnitOfWork/fetch(_:refresh:)``.
    fileprivate func fetchAndWait<M: Model>(_ query: Query<M>, refresh: Bool) throws -> [M] {
        let (loaded, keys, snapshot) = try readAndWait { try query.fetchAllWithKeys($0) }
        return try registerAll(loaded, keys: keys, snapshot: snapshot, refresh: refresh)
    }

    /// Registers loaded rows; `keys`, when given, are their integer keys as read from the key column,
    /// and `snapshot` a copy of the rows made while decoding them.
    private func registerAll<M: Model>(_ models: [M], keys: [Int64]?, snapshot: [M]?, refresh: Bool) throws -> [M] {
        let map = identityMap(for: M.self)
        let queued = queued(M.self)
        if let keys {
            return map.register(models, integerKeys: keys, snapshot: snapshot, refresh: refresh, queued: queued)
        }
        return try map.register(models, refresh: refresh, queued: queued) { i in
            models[i].id.isUnset ? nil : try M.encodeKey(models[i].id)
        }
    }

    // MARK: Commit

    /// Flushes every queued change in one `BEGIN IMMEDIATE` transaction on the database's writer:
    /// all of it lands, or none of it.
    ///
    /// On failure the database is as it was, every change is still queued (fix and commit again,
    /// or ``rollback()``), and no model or handle carries a key from the rolled-back transaction.
    nonisolated(nonsending) public func commit() async throws {
        guard var prepared = try prepareCommit() else { return }
        let (batches, count) = (BatchBox(prepared.batches), prepared.count)
        prepared.batches = []
        let result = try await database.writeKeepingSchema {
            try FlushExecutor.flush(batches.batches, count: count, on: $0)
        }
        // Writing the keys back must not copy every queued model because the batches still share
        // their arrays: drop them first.
        batches.batches = []
        finishCommit(prepared, result)
    }

    /// The blocking form of ``commit()``: ``BlockingUnitOfWork/commit()``. Inside a write job it
    /// flushes on the job's connection, in a savepoint of the job's transaction.
    fileprivate func commitAndWait() throws {
        guard var prepared = try prepareCommit() else { return }
        let (batches, count) = (BatchBox(prepared.batches), prepared.count)
        prepared.batches = []
        let flush = { (db: Connection) in try FlushExecutor.flush(batches.batches, count: count, on: db) }
        let result: FlushResult
        if let writer = database.currentWriterConnection {
            result = try writer.inSavepoint(flush)
        } else {
            result = try database.blocking.writeKeepingSchema(flush)
        }
        batches.batches = []
        finishCommit(prepared, result)
    }

    /// The blocking forms of ``find(_:id:refresh:)``, ``fetch(_:refresh:)`` and ``commit()``, for
    /// thread-based code and for a unit of work used inside a write job (see
    /// ``Database/writeUnitOfWork(_:)``).
    ///
    /// ```swift
    /// let uow = UnitOfWork.forCurrentThread(db)
    /// var counter = try uow.blocking.find(Counter.self, id: 1)!
    /// counter.value += 1
    /// uow.update(counter)
    /// try uow.blocking.commit()
    /// ```
    ///
    /// They have names of their own so that async code can never pick one by accident.
    public var blocking: BlockingUnitOfWork { BlockingUnitOfWork(unitOfWork: self) }

    /// The plan the general planner makes for the next commit, without running it (it reads table
    /// metadata only). A commit of inserts only, whose order the tables alone settle, runs the same
    /// order without building a plan.
    nonisolated(nonsending) public func plan() async throws -> FlushPlan {
        guard let prepared = try prepareCommit() else {
            return FlushPlan(changes: [], steps: [], postUpdatedSlots: [:])
        }
        let batches = prepared.batches
        return try await database.read { db in
            var schema: [String: TableInfo] = [:]
            for table in Set(batches.map { $0.table }) { schema[table] = try db.schemaCache.table(table, on: db) }
            let changes = try batches.flatMap { try $0.rowChanges() }.sorted { $0.index < $1.index }
            return try FlushPlanner.plan(changes, schema: schema)
        }
    }

    private struct PreparedCommit {
        let queues: [any AnyChangeQueue]
        var batches: [any FlushBatch]
        let dense: ChangeIndexMap
        let count: Int
    }

    /// Packs the queue for the writer. Updates with no net change are left out; when nothing else
    /// is queued, there is no write job at all.
    private func prepareCommit() throws -> PreparedCommit? {
        var noops: [Set<Int>] = []
        var live = 0
        var anyLive = false
        for queue in queues {
            let skipped = try queue.noopUpdates(identity: identityMaps[queue.modelTypeID])
            noops.append(skipped)
            anyLive = anyLive || queue.liveCount > 0
            live += queue.liveCount - skipped.count
        }
        guard live > 0 else {
            if anyLive { clearQueue() }
            return nil
        }
        // Dense change index by queue position: the live rows, numbered in queue order; -1 for rows
        // dropped or left out. When every position is live, that is the position itself: no table.
        let dense: ChangeIndexMap
        if live == Int(nextPosition) {
            dense = ChangeIndexMap(offset: 0)
        } else {
            // Positions are marked first, then numbered in one pass (no sort).
            var table = [Int32](repeating: -1, count: Int(nextPosition))
            for (queue, skipped) in zip(queues, noops) { queue.markLive(in: &table, skipping: skipped) }
            var count: Int32 = 0
            for i in table.indices where table[i] == ChangeQueueMark.live {
                table[i] = count
                count += 1
            }
            dense = ChangeIndexMap(table: table)
        }
        var batches: [any FlushBatch] = []
        for (queue, skipped) in zip(queues, noops) where queue.liveCount > skipped.count {
            batches.append(
                try queue.payload(
                    dense: dense, identity: identityMaps[queue.modelTypeID], skipping: skipped))
        }
        return PreparedCommit(queues: queues, batches: batches, dense: dense, count: live)
    }

    private func finishCommit(_ prepared: PreparedCommit, _ result: FlushResult) {
        for queue in prepared.queues {
            queue.apply(result, dense: prepared.dense, identity: identityMaps[queue.modelTypeID])
        }
        commitCount += 1
        clearQueue()
    }
}

/// Holds a commit's batches so the caller can release them once the write job is done. The writer
/// reads them while the job runs; the caller empties the box only after the job finished (the
/// job's completion orders the two), so the box is never used from two threads at once.
final class BatchBox: @unchecked Sendable {
    var batches: [any FlushBatch]
    init(_ batches: [any FlushBatch]) { self.batches = batches }
}

/// An identity map that can copy itself, for nested scopes.
protocol IdentityMapCopying: AnyObject {
    func copy() -> AnyObject
}

extension IdentityMap: IdentityMapCopying {
    func copy() -> AnyObject { copy() as IdentityMap<M> }
}

/// The blocking forms of a ``UnitOfWork``'s reads and commit (``UnitOfWork/blocking``). Each waits on
/// the calling thread; none may be called from async code. Inside a write job they read and commit
/// on the job's own connection.
public struct BlockingUnitOfWork {
    /// The unit of work the calls go to.
    public let unitOfWork: UnitOfWork

    /// The blocking form of ``UnitOfWork/find(_:id:refresh:)``.
    public func find<M: Model>(_ type: M.Type, id: M.ID, refresh: Bool = false) throws -> M? {
        try unitOfWork.findAndWait(type, id: id, refresh: refresh)
    }

    /// The blocking form of ``UnitOfWork/fetch(_:refresh:)``.
    public func fetch<M: Model>(_ query: Query<M>, refresh: Bool = false) throws -> [M] {
        try unitOfWork.fetchAndWait(query, refresh: refresh)
    }

    /// The blocking form of ``UnitOfWork/commit()``. Inside a write job (``Database/writeUnitOfWork(_:)``
    /// or ``Database/write(_:)``) it flushes on that job's connection, in a savepoint: the rows land
    /// when the job's transaction commits.
    public func commit() throws {
        try unitOfWork.commitAndWait()
    }
}
