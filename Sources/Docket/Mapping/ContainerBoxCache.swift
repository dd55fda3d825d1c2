/// The type-erasing box of a keyed container, made once and reused for every row.
///
/// `KeyedEncodingContainer(…)` and `KeyedDecodingContainer(…)` allocate a box on every call, that
/// is once per row. Docket's containers hold nothing that changes between rows (the encoder's or
/// decoder's state pointer, held `unowned(unsafe)`, so the owner keeping the box makes no cycle),
/// so the first box serves them all. The box is the wrapper's only stored property: a class
/// reference, checked by size before it is cached.
struct ContainerBoxCache {
    private var box: AnyObject?
    private var keyType: ObjectIdentifier?

    /// The wrapper for `Key`, from the cached box or, the first time, from `make`.
    mutating func container<Key, Wrapper>(for key: Key.Type, make: () -> Wrapper) -> Wrapper {
        if keyType == ObjectIdentifier(Key.self), let box { return unsafeBitCast(box, to: Wrapper.self) }
        let wrapper = make()
        if MemoryLayout<Wrapper>.size == MemoryLayout<AnyObject>.size {
            box = unsafeBitCast(wrapper, to: AnyObject.self)
            keyType = ObjectIdentifier(Key.self)
        }
        return wrapper
    }
}
