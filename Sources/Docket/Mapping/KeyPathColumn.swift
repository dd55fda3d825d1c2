/// An integer property type that a key path can name for key propagation or versioning:
/// `Int64`, `Int`, and their optionals.
public protocol IntegerKeyValue: Sendable {
    init(integerKey: Int64)
    var integerKey: Int64? { get }
}

extension Int64: IntegerKeyValue {
    public init(integerKey: Int64) { self = integerKey }
    public var integerKey: Int64? { self }
}
extension Int: IntegerKeyValue {
    public init(integerKey: Int64) { self = Int(integerKey) }
    public var integerKey: Int64? { Int64(self) }
}
extension Optional: IntegerKeyValue where Wrapped: IntegerKeyValue {
    public init(integerKey: Int64) { self = .some(Wrapped(integerKey: integerKey)) }
    public var integerKey: Int64? { self?.integerKey }
}

/// Finds the coding key a property key path encodes under, without reflection: encode a sample
/// with a sentinel in that property and see which column carries it. Memoized per key path.
enum KeyPathColumn {
    private static let sentinel: Int64 = 0x5EED_D0C4_E7C0_FFEE
    /// Key paths are immutable once formed, so sharing one between threads is safe; `AnyKeyPath`
    /// just predates `Sendable`.
    private struct Key: Hashable, @unchecked Sendable { let keyPath: AnyKeyPath }
    private static let cache = Locked<[Key: String]>([:])

    static func codingKey<M: Model, V: IntegerKeyValue>(of keyPath: WritableKeyPath<M, V>, sample: M) throws -> String {
        if let key = cache.withLock({ $0[Key(keyPath: keyPath)] }) { return key }
        var probe = sample
        probe[keyPath: keyPath] = V(integerKey: sentinel)
        let encoder = ModelEncoder<M>()
        let row = try encoder.encode(probe)
        guard let slot = row.firstIndex(of: .integer(sentinel)) else {
            throw MappingError(
                model: "\(M.self)", column: nil,
                message: "\(keyPath) is not encoded as its own integer column of \(M.tableName); "
                    + "a linked or version property must be a stored Int64/Int property")
        }
        let key = encoder.keys[slot]
        cache.withLock { $0[Key(keyPath: keyPath)] = key }
        return key
    }
}
