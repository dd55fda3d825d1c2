/// A queued insert (or upsert): the handle you link children to, and where the inserted value,
/// with its generated key, appears after the commit.
///
/// ```swift
/// let author = uow.insert(Author(name: "Ursula K. Le Guin"))
/// try uow.insert(Book(title: "A Wizard of Earthsea"), linking: \.authorID, to: author)
/// try await uow.commit()
/// author.value.id   // the key the database generated
/// ```
///
/// Until a commit succeeds, `value` is the model as queued: a failed commit never leaves a key from
/// the rolled-back transaction in it. A handle is a small value (a reference to its unit of work's
/// queue and a row number): queueing a million inserts allocates no handle objects.
///
/// A handle whose row was discarded (``UnitOfWork/rollback()``, a failed nested scope) keeps the
/// value it queued, is never committed, and linking to it throws ``UnitOfWorkError/invalidHandle(_:)``.
public struct Inserted<M: Model> {
    @usableFromInline let queue: ChangeQueue<M>
    @usableFromInline let row: Int
    /// The queue's generation when the handle was made (see `ChangeQueue.generation`).
    @usableFromInline let generation: Int32

    @usableFromInline init(queue: ChangeQueue<M>, row: Int, generation: Int32) {
        self.queue = queue
        self.row = row
        self.generation = generation
    }

    /// The model: as queued before the commit; with its generated key and linked foreign keys after.
    public var value: M { queue.value(row: row, generation: generation)! }
    /// `true` once a commit wrote the row (and then ``id`` holds its key).
    public var isCommitted: Bool { queue.isCommitted && queue.problem(row: row, generation: generation) == nil }
    /// The primary key (unset until the commit for generated keys).
    public var id: M.ID { value.id }
}

/// The rows one ``UnitOfWork/insert(contentsOf:)`` queued, as a collection of ``Inserted``
/// handles. Handles are made when read, so the collection is two words however many rows it covers.
///
/// ```swift
/// let authors = uow.insert(contentsOf: [Author(name: "Le Guin"), Author(name: "Delany")])
/// try uow.insert(Book(title: "Dhalgren"), linking: \.authorID, to: authors[1])
/// try await uow.commit()
/// authors.values.map(\.id)   // the generated keys
/// ```
public struct InsertedRows<M: Model>: RandomAccessCollection {
    @usableFromInline let queue: ChangeQueue<M>
    @usableFromInline let rows: Range<Int>
    @usableFromInline let generation: Int32

    @usableFromInline init(queue: ChangeQueue<M>, rows: Range<Int>, generation: Int32) {
        self.queue = queue
        self.rows = rows
        self.generation = generation
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { rows.count }

    public subscript(position: Int) -> Inserted<M> {
        precondition(indices.contains(position), "InsertedRows: index \(position) out of range 0..<\(count)")
        return Inserted(queue: queue, row: rows.lowerBound + position, generation: generation)
    }

    /// The models: as queued before the commit; with their generated keys after.
    public var values: [M] { queue.values(rows, generation: generation) }
    /// `true` once a commit wrote the rows.
    public var isCommitted: Bool {
        queue.isCommitted && (rows.isEmpty || queue.problem(row: rows.lowerBound, generation: generation) == nil)
    }
}
