import CSQLite
import Foundation

/// Encodes models into column values, by layout slot, for binding into prepared statements.
///
/// One encoder is reused for every row of a batch: its value buffer is cleared, not reallocated.
/// A key is resolved to its slot by predicting that keys come in the same order as last time (they
/// do for synthesized `Codable`), so the common case is one string comparison per column, with a
/// dictionary lookup only when the order differs. No dictionary is built per row.
final class ModelEncoder<M: Model> {
    let core: RowEncoder

    init() {
        core = RowEncoder(
            layout: ColumnLayout.of(M.self), modelName: typeName(M.self), tableName: M.tableName,
            naming: M.columnNaming, options: M.mappingOptions)
        // The primary key always has a slot, even while every value seen had it nil (skipped by the
        // synthesized encodeIfPresent): the unit of work binds generated keys there.
        ensureKeys([M.primaryKeyCodingKey])
    }

    /// Gives `keys` slots now (foreign keys linked to generated keys, which encode as nil until then).
    func ensureKeys(_ keys: [String]) { core.ensureKeys(keys) }

    /// Encodes one model into its column values, by layout slot (absent keys are `.null`).
    func encode(_ model: M) throws -> [DatabaseValue] {
        try row(into: nil) { try model.write(to: $0) }
    }

    /// ``encode(_:)`` for row `row` of `models`, written in place by `access` (compiled for the
    /// model type): no copy of the model, no metadata look-up.
    func encode(_ models: [M], row: Int, with access: RowAccess<M>) throws -> [DatabaseValue] {
        try self.row(into: nil) { try access.writeRow(models, row, $0) }
    }

    /// Encodes row `row` of `models` straight into `statement`, whose parameters are the layout's
    /// slots (as after an earlier `encode`). Every parameter is cleared first, so a key the model
    /// skips is NULL. Throws if the model encodes a key the statement has no parameter for. The row
    /// is written in place by `access`, as in ``encode(_:row:with:)``.
    func bind(_ models: [M], row: Int, with access: RowAccess<M>, to statement: Statement) throws {
        statement.clearBindings()
        _ = try self.row(into: statement) { try access.writeRow(models, row, $0) }
    }

    /// One row, written by `write`: into `values` (returned) or bound into `statement`.
    private func row(into statement: Statement?, _ write: (RowWriter) throws -> Void) throws -> [DatabaseValue] {
        core.begin(target: statement)
        do {
            try write(RowWriter(core))
        } catch {
            _ = try? core.end()
            throw error
        }
        return try core.end()
    }

    /// `INSERT INTO table (every column of the layout) VALUES (?, …)`, memoized per layout.
    func insertSQL() -> String { core.layout.insertSQL(table: M.tableName, count: core.keys.count) }

    /// The column names, by slot, as known after the last `encode`.
    var columns: [String] { core.columns }
    var keys: [String] { core.keys }
}

/// The `Encoder` behind ``ModelEncoder``.
///
/// Not generic over the model, so handing it to `encode(to:)` needs no witness table built at run
/// time. Its mutable state lives behind a pointer: a stored `var` of a class costs a dynamic
/// exclusivity check on every access, and the encoder is touched once per column.
final class RowEncoder: Encoder {
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let layout: ColumnLayout
    let modelName: String
    let tableName: String
    let naming: ColumnNaming
    let options: MappingOptions

    struct State {
        var snapshot: ColumnLayout.Snapshot
        var newKeys: [String] = []
        var cursor = 0
        var values: [DatabaseValue] = []
        /// When set, values are bound straight into this statement (parameter = slot + 1) instead
        /// of being stored in `values`. The caller of `begin` keeps it alive until `end`.
        unowned(unsafe) var target: Statement?
        /// `target`'s handle: binding through it does not retain the statement per column.
        var handle: OpaquePointer?
        /// Set when a value bound straight into `target` has a key the statement has no parameter for.
        var missedKey: String?
        var boxes = ContainerBoxCache()
        var json: JSONEncoder?
    }
    let state: UnsafeMutablePointer<State>

    init(layout: ColumnLayout, modelName: String, tableName: String, naming: ColumnNaming, options: MappingOptions) {
        self.layout = layout
        self.modelName = modelName
        self.tableName = tableName
        self.naming = naming
        self.options = options
        state = .allocate(capacity: 1)
        state.initialize(to: State(snapshot: layout.snapshot))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    var columns: [String] { state.pointee.snapshot.columns }
    var keys: [String] { state.pointee.snapshot.keys }

    func ensureKeys(_ keys: [String]) {
        guard keys.contains(where: { state.pointee.snapshot.slotByKey[$0] == nil }) else { return }
        state.pointee.snapshot = layout.merge(keys: keys, naming: naming)
    }

    /// Starts a row: into `values` (target `nil`) or bound into `target`.
    func begin(target: Statement?) {
        state.pointee.cursor = 0
        state.pointee.target = target
        state.pointee.handle = target?.handle
        state.pointee.missedKey = nil
        if target == nil {
            state.pointee.values.removeAll(keepingCapacity: true)
            state.pointee.values.append(contentsOf: repeatElement(.null, count: state.pointee.snapshot.keys.count))
        }
    }

    /// Ends a row: merges keys it learned into the layout and returns its values (empty when bound).
    func end() throws -> [DatabaseValue] {
        let bound = state.pointee.handle != nil
        state.pointee.target = nil
        state.pointee.handle = nil
        if bound {
            if let missedKey = state.pointee.missedKey {
                state.pointee.newKeys.removeAll()
                throw MappingError(
                    model: modelName, column: columnName(missedKey),
                    message: "\(modelName) encoded \(missedKey), which earlier values of \(modelName) in this commit "
                        + "did not; a model must encode the same keys every time (use encodeIfPresent or encodeNil for nil)"
                )
            }
            return []
        }
        if !state.pointee.newKeys.isEmpty {
            state.pointee.snapshot = layout.merge(keys: state.pointee.newKeys, naming: naming)
            state.pointee.newKeys.removeAll()
        }
        return state.pointee.values
    }

    /// The common case: keys come in the order of the previous row. Reached through the state
    /// pointer alone, so the container's hot path never retains the encoder.
    @inline(__always) static func expectedSlot(_ state: UnsafeMutablePointer<State>, _ key: String) -> Int? {
        let cursor = state.pointee.cursor
        guard cursor < state.pointee.snapshot.keys.count, state.pointee.snapshot.keys[cursor] == key else { return nil }
        state.pointee.cursor = cursor + 1
        return cursor
    }

    func slowSlot(for key: String) -> Int {
        if let slot = state.pointee.snapshot.slotByKey[key] {
            state.pointee.cursor = slot + 1
            return slot
        }
        // A key no earlier value encoded: give it the next slot now, merge into the layout after.
        let known = state.pointee.snapshot.keys.count
        if let pending = state.pointee.newKeys.firstIndex(of: key) { return known + pending }
        state.pointee.newKeys.append(key)
        if state.pointee.handle == nil { state.pointee.values.append(.null) }
        return known + state.pointee.newKeys.count - 1
    }

    func bindFailed(_ code: Int32) -> DatabaseError {
        let statement = state.pointee.target!
        return DatabaseError(connection: statement.connection.handle, code: code, sql: statement.sql)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.pointee.boxes.container(for: Key.self) { KeyedEncodingContainer(RowContainer<Key>(encoder: self)) }
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("\(modelName) must encode as a keyed container (one key per column)")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        preconditionFailure("\(modelName) must encode as a keyed container (one key per column)")
    }

    func columnName(_ key: String) -> String {
        "\(tableName).\(naming.column(for: key))"
    }

    private var json: JSONEncoder {
        if let json = state.pointee.json { return json }
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        state.pointee.json = json
        return json
    }

    /// Converts a non-primitive property (Date, UUID, enum, nested value…) to a column value.
    func databaseValue<T: Encodable>(_ value: T, key: String) throws -> DatabaseValue {
        try ValueEncoding.databaseValue(
            value, options: options, json: json,
            fail: {
                MappingError(
                    model: self.modelName, column: self.columnName(key), message: "\(self.modelName).\(key): \($0)")
            }
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

/// Writes a model's properties into a row, one typed call per property: what a model's
/// `write(to:)` uses (the `@Table` macro of `DocketMacros` writes it), and what the `Codable`
/// container below forwards to. Each write is a direct call on a concrete type: no
/// `KeyedEncodingContainer` box, no witness table, no generic metadata per column.
///
/// A key is a coding key (`"authorID"`); the model's `columnNaming` maps it to its column. Keys are
/// expected in the same order for every row, so each costs one string comparison. A `nil` writes
/// NULL (never skips the column). Errors are the `Codable` path's: they name the column.
///
/// It holds the encoder `unowned(unsafe)`: a strong or checked-unowned reference costs a
/// retain/release pair per column. A writer is only valid during the `write(to:)` it is passed to.
public struct RowWriter {
    /// For the slow paths (a new key, an error). Even `unowned(unsafe)` costs a retain/release pair
    /// per use, so the hot path uses `state` instead.
    unowned(unsafe) let encoder: RowEncoder
    private let state: UnsafeMutablePointer<RowEncoder.State>

    init(_ encoder: RowEncoder) {
        self.encoder = encoder
        state = encoder.state
    }

    /// The `Encoder` for `encode(to:)`: the default `write(to:)` encodes through `Codable`.
    public var codableEncoder: any Encoder { encoder }

    /// Stores the value of `key`: bound to its parameter when encoding into a statement, else put
    /// in its slot of `values`. Inlined at each call, so a literal `.integer(…)` binds with
    /// `sqlite3_bind_int64` directly.
    @inline(__always) func put(_ value: DatabaseValue, _ key: String) throws {
        let slot = RowEncoder.expectedSlot(state, key) ?? encoder.slowSlot(for: key)
        guard let handle = state.pointee.handle else {
            state.pointee.values[slot] = value
            return
        }
        guard slot < state.pointee.snapshot.keys.count else {
            // The statement has no parameter for a key earlier rows did not encode: `end` says so.
            state.pointee.missedKey = key
            return
        }
        let code = Statement.bind(value, at: Int32(slot + 1), handle)
        if code != SQLITE_OK { throw encoder.bindFailed(code) }
    }

    private func outOfRange<T>(_ value: T, _ key: String) -> MappingError {
        MappingError(
            model: encoder.modelName, column: encoder.columnName(key),
            message: "\(encoder.modelName).\(key) = \(value) does not fit SQLite's INTEGER (Int64) in "
                + "column \(encoder.columnName(key))")
    }

    public func writeNull(_ key: String) throws { try put(.null, key) }
    public func write(_ value: Bool, _ key: String) throws { try put(.integer(value ? 1 : 0), key) }
    public func write(_ value: String, _ key: String) throws { try put(.text(value), key) }
    public func write(_ value: Double, _ key: String) throws {
        if value.isNaN {
            throw MappingError(
                model: encoder.modelName, column: encoder.columnName(key),
                message: "\(encoder.modelName).\(key) is NaN, which SQLite cannot store (it would become NULL)")
        }
        try put(.real(value), key)
    }
    public func write(_ value: Float, _ key: String) throws { try write(Double(value), key) }
    public func write(_ value: Int, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: Int8, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: Int16, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: Int32, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: Int64, _ key: String) throws { try put(.integer(value), key) }
    public func write(_ value: UInt, _ key: String) throws {
        guard let v = Int64(exactly: value) else { throw outOfRange(value, key) }
        try put(.integer(v), key)
    }
    public func write(_ value: UInt8, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: UInt16, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: UInt32, _ key: String) throws { try put(.integer(Int64(value)), key) }
    public func write(_ value: UInt64, _ key: String) throws {
        guard let v = Int64(exactly: value) else { throw outOfRange(value, key) }
        try put(.integer(v), key)
    }
    /// Any other `Encodable` value: dates, UUIDs, `Data`, enums, and `Codable` types stored as JSON
    /// text, encoded as the `Codable` path encodes them.
    public func write<T: Encodable>(_ value: T, _ key: String) throws {
        try put(try encoder.databaseValue(value, key: key), key)
    }

    // Optionals: `nil` is a NULL column. (Synthesized `encode(to:)` calls `encodeIfPresent`, whose
    // default skips `nil` entirely: the column would be missing from the layout learned from a first
    // model with `nil`, and an insert would let a column DEFAULT replace the model's `nil`.)
    public func write(_ value: Bool?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: String?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Double?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Float?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Int?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Int8?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Int16?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Int32?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: Int64?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: UInt?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: UInt8?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: UInt16?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: UInt32?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write(_ value: UInt64?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
    public func write<T: Encodable>(_ value: T?, _ key: String) throws {
        if let value { try write(value, key) } else { try writeNull(key) }
    }
}

extension Model {
    /// Encodes through `Codable`: the default when `@Table` did not generate this method.
    public func write(to row: RowWriter) throws {
        try encode(to: row.codableEncoder)
    }
}

/// The keyed container a model encodes into when it encodes through `Codable`: every call
/// forwards to a ``RowWriter``. The encoder owns the cached box that holds this container, so the
/// container never outlives it.
private struct RowContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let row: RowWriter
    var encoder: RowEncoder { row.encoder }
    var codingPath: [any CodingKey] { [] }

    init(encoder: RowEncoder) {
        row = RowWriter(encoder)
    }

    mutating func encodeNil(forKey key: Key) throws { try row.writeNull(key.stringValue) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: String, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try row.write(value, key.stringValue) }

    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try row.write(value, key.stringValue) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        try row.write(value, key.stringValue)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        preconditionFailure(
            "\(encoder.modelName).\(key.stringValue): nested containers are not columns; use a Codable type")
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure(
            "\(encoder.modelName).\(key.stringValue): nested containers are not columns; use a Codable type")
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
