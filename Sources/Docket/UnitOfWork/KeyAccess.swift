/// A model type's primary-key operations that run once per queued row.
///
/// Built in `@inlinable` queueing code, so each closure is compiled for the caller's model type:
/// the same operations in the library's generic code look up `M.ID`'s metadata and call witnesses
/// for every row.
@usableFromInline struct KeyAccess<M: Model>: Sendable {
    /// The model's key as an integer: `nil` while it is still to be generated, or when the key is
    /// not an integer.
    let integerKey: @Sendable (M) -> Int64?
    /// Sets a generated key into a model whose key is unset.
    let setGenerated: @Sendable (inout M, Int64) -> Void

    @inlinable init() {
        self.init(
            integerKey: { model in model.id.isUnset ? nil : (try? M.encodeKey(model.id))?.integerValue },
            setGenerated: { model, key in
                if model.id.isUnset, let id = M.ID.generated(rowID: key) { model.id = id }
            })
    }

    @usableFromInline init(
        integerKey: @escaping @Sendable (M) -> Int64?, setGenerated: @escaping @Sendable (inout M, Int64) -> Void
    ) {
        self.integerKey = integerKey
        self.setGenerated = setGenerated
    }
}
