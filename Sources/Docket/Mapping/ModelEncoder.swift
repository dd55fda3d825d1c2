import Foundation

/// Encodes models into column values, by layout slot, for binding into prepared statements.
///
/// One encoder is reused for every row of a batch: its value buffer is cleared, not reallocated.
/// A key is resolved to its slot by predicting that keys come in the same order as last time (they
/// do for synthesized `Codable`), so the common case is one string comparison per column, with a
/// dictionary lookup only when the order differs. No dictionary is built per row.
final class ModelEncoder<M: Model>: Encoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let layout = ColumnLayout.of(M.self)
    private var snapshot: ColumnLayout.Snapshot
    private var newKeys: [String] = []
    private var cursor = 0
    var values: [DatabaseValue] = []
    /// When set, values are bound straight into this statement (parameter = slot + 1) instead of
    /// being stored in `values`.
    private var target: Statement?
    /// Set when a value bound straight into `target` has a key the statement has no parameter for.
    private var missedKey: String?
    private lazy var json: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    init() {
        snapshot = layout.snapshot
        // The primary key always has a slot, even while every value seen had it nil (skipped by the
        // synthesized encodeIfPresent): the unit of work binds generated keys there.
        ensureKeys([M.primaryKeyCodingKey])
    }

    /// Gives `keys` slots now (foreign keys linked to generated keys, which encode as nil until then).
    func ensureKeys(_ keys: [String]) {
        guard keys.contains(where: { snapshot.slotByKey[$0] == nil }) else { return }
        snapshot = layout.merge(keys: keys, naming: M.columnNaming)
    }

    /// Encodes one model into its column values, by layout slot (absent keys are `.null`).
    func encode(_ model: M) throws -> [DatabaseValue] {
        values.removeAll(keepingCapacity: true)
        values.append(contentsOf: repeatElement(.null, count: snapshot.keys.count))
        cursor = 0
        try model.encode(to: self)
        if !newKeys.isEmpty {
            snapshot = layout.merge(keys: newKeys, naming: M.columnNaming)
            newKeys.removeAll()
        }
        return values
    }

    /// Encodes one model straight into `statement`, whose parameters are the layout's slots (as
    /// after an earlier `encode`). Every parameter is cleared first, so a key the model skips is NULL.
    /// Throws if the model encodes a key the statement has no parameter for.
    func bind(_ model: M, to statement: Statement) throws {
        statement.clearBindings()
        target = statement
        missedKey = nil
        cursor = 0
        defer { target = nil }
        try model.encode(to: self)
        if let missedKey {
            newKeys.removeAll()
            throw MappingError(
                model: "\(M.self)", column: columnName(missedKey),
                message: "\(M.self) encoded \(missedKey), which earlier values of \(M.self) in this commit did not; "
                    + "a model must encode the same keys every time (use encodeIfPresent or encodeNil for nil)")
        }
    }

    @inline(__always) func store(_ value: DatabaseValue, at slot: Int, key: String) throws {
        guard let target else {
            values[slot] = value
            return
        }
        guard slot < snapshot.keys.count else {
            missedKey = key
            return
        }
        try target.bind(value, at: Int32(slot + 1))
    }

    /// `INSERT INTO table (every column of the layout) VALUES (?, …)`, memoized per layout.
    func insertSQL() -> String { layout.insertSQL(table: M.tableName, count: snapshot.keys.count) }

    /// The column names, by slot, as known after the last `encode`.
    var columns: [String] { snapshot.columns }
    var keys: [String] { snapshot.keys }

    @inline(__always) func slot(for key: String) -> Int {
        if cursor < snapshot.keys.count, snapshot.keys[cursor] == key {
            defer { cursor += 1 }
            return cursor
        }
        if let slot = snapshot.slotByKey[key] {
            cursor = slot + 1
            return slot
        }
        // A key no earlier value encoded: give it the next slot now, merge into the layout after.
        if let pending = newKeys.firstIndex(of: key) { return snapshot.keys.count + pending }
        newKeys.append(key)
        if target == nil { values.append(.null) }
        return snapshot.keys.count + newKeys.count - 1
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // One type-erasing box serves every row (see `ModelDecoder.container`): the container holds
        // the encoder unowned, so the encoder owning the box makes no cycle.
        if cachedKeyType == ObjectIdentifier(Key.self), let box = cachedBox {
            return unsafeBitCast(box, to: KeyedEncodingContainer<Key>.self)
        }
        let container = KeyedEncodingContainer(RowContainer<M, Key>(encoder: self))
        if MemoryLayout<KeyedEncodingContainer<Key>>.size == MemoryLayout<AnyObject>.size {
            cachedBox = unsafeBitCast(container, to: AnyObject.self)
            cachedKeyType = ObjectIdentifier(Key.self)
        }
        return container
    }

    private var cachedBox: AnyObject?
    private var cachedKeyType: ObjectIdentifier?

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("\(M.self) must encode as a keyed container (one key per column)")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        preconditionFailure("\(M.self) must encode as a keyed container (one key per column)")
    }

    func columnName(_ key: String) -> String {
        "\(M.tableName).\(M.columnNaming.column(for: key))"
    }

    /// Converts a non-primitive property (Date, UUID, enum, nested value…) to a column value.
    func databaseValue<T: Encodable>(_ value: T, key: String) throws -> DatabaseValue {
        try ValueEncoding.databaseValue(
            value, options: M.mappingOptions, json: json,
            fail: { MappingError(model: "\(M.self)", column: self.columnName(key), message: "\(M.self).\(key): \($0)") }
        )
    }
}

/// Encoding of single non-primitive values, shared by the model encoder and argument binding.
enum ValueEncoding {
    /// Types already known to encode as a keyed or unkeyed container (stored as JSON text).
    private static let compositeTypes = Locked<Set<ObjectIdentifier>>([])

    static func databaseValue<T: Encodable>(
        _ value: T, options: MappingOptions, json: @autoclosure () -> JSONEncoder, fail: (String) -> MappingError
    ) throws -> DatabaseValue {
        // Type identity checks are a pointer comparison; `as?` casts would cost a dynamic cast each.
        // Integer keys first: the unit of work encodes a primary key per row for its identity map.
        if T.self == Int64?.self { return unsafeBitCast(value, to: Int64?.self).map(DatabaseValue.integer) ?? .null }
        if T.self == Int64.self { return .integer(unsafeBitCast(value, to: Int64.self)) }
        if T.self == Int?.self { return unsafeBitCast(value, to: Int?.self).map { .integer(Int64($0)) } ?? .null }
        if T.self == Int.self { return .integer(Int64(unsafeBitCast(value, to: Int.self))) }
        if T.self == Date.self {
            let date = unsafeBitCast(value, to: Date.self)
            switch options.dateStrategy {
            case .iso8601:
                // Four-digit years only: DateText would write year 10000 as 0000, and a negative year
                // as text that neither sorts nor parses.
                guard DateText.representableRange.contains(date.timeIntervalSince1970) else {
                    throw fail(
                        "\(date) is outside years 0000–9999, which ISO-8601 text stores; use the "
                            + ".unixEpochSeconds or .unixEpochMilliseconds date strategy")
                }
                return .text(DateText.format(date))
            case .unixEpochSeconds: return .real(date.timeIntervalSince1970)
            case .unixEpochMilliseconds: return .integer(Int64((date.timeIntervalSince1970 * 1000).rounded()))
            }
        }
        if T.self == UUID.self {
            let uuid = unsafeBitCast(value, to: UUID.self)
            switch options.uuidStrategy {
            case .text: return .text(uuid.uuidString)
            case .blob: return .blob(withUnsafeBytes(of: uuid.uuid) { Data($0) })
            }
        }
        if T.self == Data.self { return .blob(value as! Data) }
        if T.self == URL.self { return .text((value as! URL).absoluteString) }
        if T.self == Decimal.self { return .text((value as! Decimal).description) }
        if T.self == String.self { return .text(value as! String) }
        if let convertible = value as? any DatabaseValueConvertible, !(value is any Collection) {
            return convertible.databaseValue
        }
        let id = ObjectIdentifier(T.self)
        if !compositeTypes.withLock({ $0.contains(id) }) {
            // Raw-value enums and single-value wrappers encode one primitive: capture it.
            let probe = SingleValueProbe(options: options)
            try value.encode(to: probe)
            if let captured = probe.captured, !probe.isComposite {
                if case .real(let v) = captured, v.isNaN {
                    throw fail("NaN cannot be stored: SQLite turns NaN into NULL")
                }
                return captured
            }
            if let error = probe.error { throw fail(error) }
            compositeTypes.withLock { _ = $0.insert(id) }
        }
        do {
            let data = try json().encode(value)
            return .text(String(decoding: data, as: UTF8.self))
        } catch {
            throw fail("could not encode \(T.self) as JSON: \(error)")
        }
    }
}

private struct RowContainer<M: Model, Key: CodingKey>: KeyedEncodingContainerProtocol {
    unowned let encoder: ModelEncoder<M>
    var codingPath: [any CodingKey] { [] }

    @inline(__always) private func set(_ value: DatabaseValue, _ key: Key) throws {
        let name = key.stringValue
        try encoder.store(value, at: encoder.slot(for: name), key: name)
    }

    private func outOfRange<T>(_ value: T, _ key: Key) -> MappingError {
        MappingError(
            model: "\(M.self)", column: encoder.columnName(key.stringValue),
            message: "\(M.self).\(key.stringValue) = \(value) does not fit SQLite's INTEGER (Int64) in column "
                + "\(encoder.columnName(key.stringValue))")
    }

    mutating func encodeNil(forKey key: Key) throws { try set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try set(.integer(value ? 1 : 0), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try set(.text(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        if value.isNaN {
            throw MappingError(
                model: "\(M.self)", column: encoder.columnName(key.stringValue),
                message: "\(M.self).\(key.stringValue) is NaN, which SQLite cannot store (it would become NULL)")
        }
        try set(.real(value), key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try set(.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        guard let v = Int64(exactly: value) else { throw outOfRange(value, key) }
        try set(.integer(v), key)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try set(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        guard let v = Int64(exactly: value) else { throw outOfRange(value, key) }
        try set(.integer(v), key)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try set(try encoder.databaseValue(value, key: key.stringValue), key)
    }

    // Synthesized `encode(to:)` calls `encodeIfPresent` for optionals, whose default skips `nil`
    // entirely: the column would be missing from the layout learned from a first model with `nil`,
    // and an insert would let a column DEFAULT replace the model's `nil`. A `nil` is a NULL column.
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try set(.null, key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        preconditionFailure("\(M.self).\(key.stringValue): nested containers are not columns; use a Codable type")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure("\(M.self).\(key.stringValue): nested containers are not columns; use a Codable type")
    }
    mutating func superEncoder() -> any Encoder { encoder }
    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder }
}

/// Captures the single primitive a value encodes (raw-value enums, wrappers), or notes that it is
/// a composite value (keyed or unkeyed) to be stored as JSON.
private final class SingleValueProbe: Encoder, SingleValueEncodingContainer {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let options: MappingOptions
    var captured: DatabaseValue?
    var isComposite = false
    var error: String?

    init(options: MappingOptions) { self.options = options }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        isComposite = true
        return KeyedEncodingContainer(DiscardingKeyed<Key>())
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        isComposite = true
        return DiscardingUnkeyed()
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() throws { captured = .null }
    func encode(_ value: Bool) throws { captured = .integer(value ? 1 : 0) }
    func encode(_ value: String) throws { captured = .text(value) }
    func encode(_ value: Double) throws { captured = .real(value) }
    func encode(_ value: Float) throws { captured = .real(Double(value)) }
    func encode(_ value: Int) throws { captured = .integer(Int64(value)) }
    func encode(_ value: Int8) throws { captured = .integer(Int64(value)) }
    func encode(_ value: Int16) throws { captured = .integer(Int64(value)) }
    func encode(_ value: Int32) throws { captured = .integer(Int64(value)) }
    func encode(_ value: Int64) throws { captured = .integer(value) }
    func encode(_ value: UInt) throws { try encode(UInt64(value)) }
    func encode(_ value: UInt8) throws { captured = .integer(Int64(value)) }
    func encode(_ value: UInt16) throws { captured = .integer(Int64(value)) }
    func encode(_ value: UInt32) throws { captured = .integer(Int64(value)) }
    func encode(_ value: UInt64) throws {
        if let v = Int64(exactly: value) {
            captured = .integer(v)
        } else {
            error = "\(value) does not fit SQLite's INTEGER (Int64)"
        }
    }
    func encode<T: Encodable>(_ value: T) throws {
        captured = try ValueEncoding.databaseValue(
            value, options: options, json: JSONEncoder(),
            fail: { MappingError(model: "\(T.self)", column: nil, message: $0) })
    }
}

private struct DiscardingKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    var codingPath: [any CodingKey] { [] }
    mutating func encodeNil(forKey key: Key) throws {}
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {}
    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> { KeyedEncodingContainer(DiscardingKeyed<NestedKey>()) }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { DiscardingUnkeyed() }
    mutating func superEncoder() -> any Encoder { DiscardingEncoder() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { DiscardingEncoder() }
}

private struct DiscardingUnkeyed: UnkeyedEncodingContainer {
    var codingPath: [any CodingKey] { [] }
    var count = 0
    mutating func encodeNil() throws { count += 1 }
    mutating func encode<T: Encodable>(_ value: T) throws { count += 1 }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        KeyedEncodingContainer(DiscardingKeyed<NestedKey>())
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { DiscardingUnkeyed() }
    mutating func superEncoder() -> any Encoder { DiscardingEncoder() }
}

private struct DiscardingEncoder: Encoder {
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(DiscardingKeyed<Key>())
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { DiscardingUnkeyed() }
    func singleValueContainer() -> any SingleValueEncodingContainer { DiscardingSingle() }
}

private struct DiscardingSingle: SingleValueEncodingContainer {
    var codingPath: [any CodingKey] { [] }
    mutating func encodeNil() throws {}
    mutating func encode<T: Encodable>(_ value: T) throws {}
}
