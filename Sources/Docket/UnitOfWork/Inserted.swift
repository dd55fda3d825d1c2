/// A queued insert (or upsert): the handle you link children to, and where the inserted value,
/// with its generated key, appears after the commit.
///
/// ```swift
/// let author = uow.insert(Author(name: "Ursula K. Le Guin"))
/// uow.insert(Book(title: "A Wizard of Earthsea"), linking: \.authorID, to: author)
/// try await uow.commit()
/// author.value.id   // the key the database generated
/// ```
///
/// Until a commit succeeds, `value` is the model as queued: a failed commit never leaves a key from
/// the rolled-back transaction in it.
public final class Inserted<M: Model> {
    /// The model: as queued before the commit; with its generated key and linked foreign keys after.
    public internal(set) var value: M
    /// `true` once a commit wrote the row.
    public internal(set) var isCommitted = false

    init(_ value: M) { self.value = value }

    /// The primary key (unset until the commit for generated keys).
    public var id: M.ID { value.id }
}
