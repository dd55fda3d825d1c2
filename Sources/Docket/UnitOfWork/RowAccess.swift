/// A model type's operations that run once per queued row: its primary key, and writing a row into
/// a statement.
///
/// Built in `@inlinable` queueing code, so each closure is compiled for the caller's model type:
/// the same operations in the library's generic code look up `M.ID`'s (or `[M]`'s) metadata, copy
/// the model through its value witness and call witnesses for every row.
@usableFromInline struct RowAccess<M: Model>: Sendable {
    /// The key of row `row` of `models` as an integer, read in place: `nil` while it is still to be
    /// generated, or when the key is not an integer.
    let integerKey: @Sendable ([M], Int) -> Int64?
    /// Sets a generated key into a model whose key is unset.
    let setGenerated: @Sendable (inout M, Int64) -> Void
    /// Writes row `row` of `models` (in place, no copy) with its `write(to:)`.
    let writeRow: @Sendable ([M], Int, RowWriter) throws -> Void

    @inlinable init() {
        self.init(
            integerKey: { models, row in
                models[row].id.isUnset ? nil : (try? M.encodeKey(models[row].id))?.integerValue
            },
            setGenerated: { model, key in
                if model.id.isUnset, let id = M.ID.generated(rowID: key) { model.id = id }
            },
            writeRow: { models, row, writer in try models[row].write(to: writer) })
    }

    @usableFromInline init(
        integerKey: @escaping @Sendable ([M], Int) -> Int64?,
        setGenerated: @escaping @Sendable (inout M, Int64) -> Void,
        writeRow: @escaping @Sendable ([M], Int, RowWriter) throws -> Void
    ) {
        self.integerKey = integerKey
        self.setGenerated = setGenerated
        self.writeRow = writeRow
    }
}
