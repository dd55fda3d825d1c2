import CSQLite
import Foundation

/// Where each decoded key's column is, memoized on the statement for one model type.
///
/// Built while decoding the first row; later rows follow the same key order, so each key costs
/// one string comparison and no hashing.
final class DecodingPlan {
    let modelType: ObjectIdentifier
    var table = PlanTable()

    init(modelType: ObjectIdentifier) { self.modelType = modelType }
}

/// The columns of a ``DecodingPlan``, by key order.
struct PlanTable {
    var keys: [String] = []
    var columns: [Int32] = []
    var byKey: [String: Int32] = [:]
}

/// Decodes models straight from the current row of a prepared statement.
///
/// Not generic over the model, so handing it to `init(from:)` as a `Decoder` needs no witness
/// table built at run time. Its mutable state lives behind a pointer: a stored `var` of a class
/// costs a dynamic exclusivity check on every access, and the decoder is touched once per column.
final class ModelDecoder: Decoder {
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let statement: Statement
    /// The statement's handle, read per column without touching (and retaining) the statement.
    let handle: OpaquePointer
    let modelType: ObjectIdentifier
    let modelName: String
    let tableName: String
    let naming: ColumnNaming
    let options: MappingOptions

    struct State {
        var cursor = 0
        var plan: DecodingPlan
        var table: PlanTable
        var boxes = ContainerBoxCache()
        var json: JSONDecoder?
    }
    let state: UnsafeMutablePointer<State>

    init<M: Model>(statement: Statement, model: M.Type) {
        self.statement = statement
        handle = statement.handle
        modelType = ObjectIdentifier(M.self)
        modelName = typeName(M.self)
        tableName = M.tableName
        naming = M.columnNaming
        options = M.mappingOptions
        let plan: DecodingPlan
        if let memo = statement.decodingPlan as? DecodingPlan, memo.modelType == ObjectIdentifier(M.self) {
            plan = memo
        } else {
            plan = DecodingPlan(modelType: ObjectIdentifier(M.self))
            statement.decodingPlan = plan
        }
        state = .allocate(capacity: 1)
        state.initialize(to: State(plan: plan, table: plan.table))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Starts decoding the statement's current row (after a step that returned a row).
    func beginRow() {
        state.pointee.cursor = 0
        if statement.decodingPlan !== state.pointee.plan {
            // The statement was re-prepared after a schema change: its columns may have moved.
            let plan = DecodingPlan(modelType: modelType)
            statement.decodingPlan = plan
            state.pointee.plan = plan
            state.pointee.table = PlanTable()
        }
    }

    /// A `DecodingError` a model's own `init(from:)` threw, as a ``MappingError`` naming the model.
    func explained(_ error: DecodingError) -> MappingError {
        MappingError(model: modelName, column: nil, message: "could not decode \(modelName): \(describe(error))")
    }

    /// Saves the plan on the statement for its next use and releases the cached container; call
    /// when done with the statement.
    func finish() {
        state.pointee.plan.table = state.pointee.table
        state.pointee.boxes = ContainerBoxCache()
    }

    /// The common case: keys come in the order of the first row. Reached through the state pointer
    /// alone, so the container's hot path never retains the decoder.
    @inline(__always) static func expectedColumn(_ state: UnsafeMutablePointer<State>, _ key: String)
        -> Int32?
    {
        let cursor = state.pointee.cursor
        guard cursor < state.pointee.table.keys.count, state.pointee.table.keys[cursor] == key else { return nil }
        state.pointee.cursor = cursor + 1
        return state.pointee.table.columns[cursor]
    }

    func slowColumn(for key: String) -> Int32 {
        let cursor = state.pointee.cursor
        // A key asked for twice in a row (a custom `decodeIfPresent`: is it NULL? then its value).
        if cursor > 0, cursor <= state.pointee.table.keys.count, state.pointee.table.keys[cursor - 1] == key {
            return state.pointee.table.columns[cursor - 1]
        }
        if let column = state.pointee.table.byKey[key] { return column }
        let column = statement.columnIndexByName[naming.column(for: key)] ?? -1
        state.pointee.table.byKey[key] = column
        if cursor == state.pointee.table.keys.count {
            state.pointee.table.keys.append(key)
            state.pointee.table.columns.append(column)
            state.pointee.cursor = cursor + 1
        }
        return column
    }

    func columnName(_ key: String) -> String { "\(tableName).\(naming.column(for: key))" }

    /// `books.pages holds TEXT 'abc'; Book.pages expects Int`.
    func mismatch(_ key: String, _ column: Int32, expected: String, detail: String? = nil) -> MappingError {
        let held: String
        if column < 0 {
            held = "is not in the result"
        } else if statement.columnType(column) == SQLITE_TEXT, statement.text(column) == nil {
            // `statement.value` hands invalid UTF-8 back as a BLOB; the column still holds TEXT.
            held = "holds TEXT that is not valid UTF-8 (\(sqlite3_column_bytes(statement.handle, column)) bytes)"
        } else {
            held = "holds \(statement.value(column))"
        }
        var message = "\(columnName(key)) \(held); \(modelName).\(key) expects \(expected)"
        if let detail { message += " (\(detail))" }
        return MappingError(model: modelName, column: columnName(key), message: message)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        state.pointee.boxes.container(for: Key.self) {
            KeyedDecodingContainer(RowDecodingContainer<Key>(decoder: self))
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw MappingError(model: modelName, column: nil, message: "\(modelName) must decode from a keyed container")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw MappingError(model: modelName, column: nil, message: "\(modelName) must decode from a keyed container")
    }

    private var json: JSONDecoder {
        if let json = state.pointee.json { return json }
        let json = JSONDecoder()
        state.pointee.json = json
        return json
    }

    func decodeValue<T: Decodable>(_ type: T.Type, key: String, column: Int32) throws -> T {
        guard column >= 0 else { throw mismatch(key, column, expected: "\(T.self)") }
        let value = statement.value(column)
        do {
            return try ValueDecoding.decode(T.self, from: value, options: options, json: json)
        } catch let failure as ValueDecoding.Failure {
            throw mismatch(key, column, expected: "\(T.self)", detail: failure.detail)
        } catch let error as DecodingError {
            throw mismatch(key, column, expected: "\(T.self)", detail: describe(error))
        }
    }
}

private func describe(_ error: DecodingError) -> String {
    switch error {
    case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
        let path = c.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

/// Decoding of single non-primitive values from a column value.
enum ValueDecoding {
    struct Failure: Error { var detail: String? }

    private static let compositeTypes = Locked<Set<ObjectIdentifier>>([])

    static func decode<T: Decodable>(
        _ type: T.Type, from value: DatabaseValue, options: MappingOptions, json: @autoclosure () -> JSONDecoder
    ) throws -> T {
        if T.self == Date.self {
            let date: Date? =
                switch value {
                case .text(let text): DateText.parse(text)
                case .real(let seconds) where options.dateStrategy == .unixEpochSeconds:
                    Date(timeIntervalSince1970: seconds)
                case .integer(let n) where options.dateStrategy == .unixEpochMilliseconds:
                    Date(timeIntervalSince1970: Double(n) / 1000)
                case .integer(let n) where options.dateStrategy == .unixEpochSeconds:
                    Date(timeIntervalSince1970: Double(n))
                default: nil
                }
            guard let date else { throw Failure(detail: "expected \(dateFormatDescription(options.dateStrategy))") }
            return unsafeBitCast(date, to: T.self)
        }
        if T.self == UUID.self {
            let uuid: UUID? =
                switch value {
                case .text(let text): UUID(uuidString: text)
                case .blob(let data) where data.count == 16:
                    data.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
                default: nil
                }
            guard let uuid else { throw Failure(detail: "expected a UUID as text or a 16-byte blob") }
            return unsafeBitCast(uuid, to: T.self)
        }
        if T.self == Data.self {
            guard case .blob(let data) = value else { throw Failure() }
            return data as! T
        }
        if T.self == URL.self {
            guard case .text(let text) = value, let url = URL(string: text) else { throw Failure() }
            return url as! T
        }
        if T.self == Decimal.self {
            guard let decimal = decimal(from: value) else { throw Failure(detail: "expected a decimal number") }
            return decimal as! T
        }
        let id = ObjectIdentifier(T.self)
        if !compositeTypes.withLock({ $0.contains(id) }) {
            do {
                return try T(from: SingleValueReader(value: value, options: options))
            } catch is CompositeMarker {
                compositeTypes.withLock { _ = $0.insert(id) }
            }
        }
        guard case .text(let text) = value else { throw Failure(detail: "expected JSON text") }
        return try json().decode(T.self, from: Data(text.utf8))
    }

    static func decimal(from value: DatabaseValue) -> Decimal? {
        switch value {
        case .text(let text): Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        case .integer(let n): Decimal(n)
        case .real(let d): Decimal(d)
        default: nil
        }
    }

    private static func dateFormatDescription(_ strategy: MappingOptions.DateStrategy) -> String {
        switch strategy {
        case .iso8601: "an ISO-8601 date as text"
        case .unixEpochSeconds: "seconds since 1970 as a number"
        case .unixEpochMilliseconds: "milliseconds since 1970 as an integer"
        }
    }
}

/// Thrown when a value asks for a keyed or unkeyed container: it is stored as JSON instead.
private struct CompositeMarker: Error {}

/// Integer conversions shared by the row container and the single-value reader.
enum IntegerColumn {
    static func read<T: FixedWidthInteger>(_ type: T.Type, from value: DatabaseValue) throws -> T {
        guard case .integer(let n) = value else { throw ValueDecoding.Failure() }
        guard let v = T(exactly: n) else { throw ValueDecoding.Failure(detail: "\(n) is out of range for \(T.self)") }
        return v
    }
}

/// Reads the columns of the current row, one typed call per property: what a model's `init(row:)`
/// uses (the `@Table` macro of `DocketMacros` writes it), and what the `Codable` container below
/// forwards to. Each read is a direct call on a concrete type: no `KeyedDecodingContainer` box, no
/// witness table, no generic metadata per column.
///
/// A key is a coding key (`"authorID"`); the model's `columnNaming` maps it to its column once per
/// statement. Keys are expected in the same order on every row, so each costs one string
/// comparison. Errors are the `Codable` path's: they name the column, what it holds and the
/// property's type.
///
/// It holds the decoder `unowned(unsafe)`: a strong or checked-unowned reference costs a
/// retain/release pair per column. The decoder outlives every use: `fetchAll` keeps it alive
/// while it decodes, and a reader is only valid during the `init(row:)` it is passed to.
public struct RowReader {
    /// For the slow paths (a key out of order, an error). Even `unowned(unsafe)` costs a
    /// retain/release pair per use, so the hot path uses `state` and `handle` instead.
    unowned(unsafe) let decoder: ModelDecoder
    private let state: UnsafeMutablePointer<ModelDecoder.State>
    private let handle: OpaquePointer

    init(_ decoder: ModelDecoder) {
        self.decoder = decoder
        state = decoder.state
        handle = decoder.handle
    }

    /// The `Decoder` for `init(from:)`: the default `init(row:)` decodes through `Codable`.
    public var codableDecoder: any Decoder { decoder }

    /// The result column of a key, or -1 when the row has none.
    @inline(__always) func column(_ key: String) -> Int32 {
        ModelDecoder.expectedColumn(state, key) ?? decoder.slowColumn(for: key)
    }

    /// The column of `key` and its storage class (`SQLITE_NULL` when the result has no such column).
    @inline(__always) func lookUp(_ key: String) -> (column: Int32, type: Int32) {
        let column = column(key)
        return (column, column >= 0 ? sqlite3_column_type(handle, column) : SQLITE_NULL)
    }

    /// `true` when `key`'s column is NULL or not in the result.
    public func isNull(_ key: String) -> Bool { lookUp(key).type == SQLITE_NULL }

    @inline(__always) func integer<T: FixedWidthInteger>(
        _ type: T.Type, _ key: String, _ found: (column: Int32, type: Int32), expected: String = "\(T.self)"
    ) throws -> T {
        if found.type == SQLITE_INTEGER {
            let n = sqlite3_column_int64(handle, found.column)
            if let v = T(exactly: n) { return v }
            throw decoder.mismatch(key, found.column, expected: expected, detail: "out of range")
        }
        throw decoder.mismatch(key, found.column, expected: expected)
    }

    @inline(__always) func integer<T: FixedWidthInteger>(_ type: T.Type, _ key: String) throws -> T {
        try integer(T.self, key, lookUp(key))
    }

    @inline(__always) func optionalInteger<T: FixedWidthInteger>(_ type: T.Type, _ key: String) throws -> T? {
        let found = lookUp(key)
        return found.type == SQLITE_NULL ? nil : try integer(T.self, key, found)
    }

    @inline(__always) func double(_ key: String, _ found: (column: Int32, type: Int32), expected: String) throws
        -> Double
    {
        // An INTEGER is a valid Double: SQLite stores whole REALs of a column with no REAL affinity,
        // and aggregates such as sum(), as INTEGER.
        if found.type == SQLITE_FLOAT || found.type == SQLITE_INTEGER {
            return sqlite3_column_double(handle, found.column)
        }
        throw decoder.mismatch(key, found.column, expected: expected)
    }

    @inline(__always) func string(_ key: String, _ found: (column: Int32, type: Int32)) throws -> String {
        if found.type == SQLITE_TEXT, let text = Statement.text(handle, found.column) { return text }
        throw decoder.mismatch(key, found.column, expected: "String")
    }

    public func read(_ key: String) throws -> Int64 { try integer(Int64.self, key) }
    public func read(_ key: String) throws -> Int { try integer(Int.self, key) }
    public func read(_ key: String) throws -> Int32 { try integer(Int32.self, key) }
    public func read(_ key: String) throws -> Int16 { try integer(Int16.self, key) }
    public func read(_ key: String) throws -> Int8 { try integer(Int8.self, key) }
    public func read(_ key: String) throws -> UInt64 { try integer(UInt64.self, key) }
    public func read(_ key: String) throws -> UInt { try integer(UInt.self, key) }
    public func read(_ key: String) throws -> UInt32 { try integer(UInt32.self, key) }
    public func read(_ key: String) throws -> UInt16 { try integer(UInt16.self, key) }
    public func read(_ key: String) throws -> UInt8 { try integer(UInt8.self, key) }
    public func read(_ key: String) throws -> Bool { try integer(Int64.self, key, lookUp(key), expected: "Bool") != 0 }
    public func read(_ key: String) throws -> Double { try double(key, lookUp(key), expected: "Double") }
    public func read(_ key: String) throws -> Float { Float(try double(key, lookUp(key), expected: "Float")) }
    public func read(_ key: String) throws -> String { try string(key, lookUp(key)) }

    // The optional forms look the key up once: NULL (or no such column) is nil.
    public func read(_ key: String) throws -> Int64? { try optionalInteger(Int64.self, key) }
    public func read(_ key: String) throws -> Int? { try optionalInteger(Int.self, key) }
    public func read(_ key: String) throws -> Int32? { try optionalInteger(Int32.self, key) }
    public func read(_ key: String) throws -> Bool? {
        let found = lookUp(key)
        return found.type == SQLITE_NULL ? nil : try integer(Int64.self, key, found, expected: "Bool") != 0
    }
    public func read(_ key: String) throws -> Double? {
        let found = lookUp(key)
        return found.type == SQLITE_NULL ? nil : try double(key, found, expected: "Double")
    }
    public func read(_ key: String) throws -> String? {
        let found = lookUp(key)
        return found.type == SQLITE_NULL ? nil : try string(key, found)
    }

    /// Any other `Decodable` value: dates, UUIDs, `Data`, enums, and `Codable` types stored as JSON
    /// text, decoded as the `Codable` path decodes them. An optional is nil when the column is NULL
    /// or not in the result.
    public func read<T: Decodable>(_ key: String) throws -> T {
        let found = lookUp(key)
        if found.type == SQLITE_NULL, let optional = T.self as? any NullableColumn.Type {
            return optional.nullColumnValue as! T
        }
        return try decoder.decodeValue(T.self, key: key, column: found.column)
    }
}

/// `Optional`, seen without its wrapped type.
protocol NullableColumn {
    static var nullColumnValue: Self { get }
}

extension Optional: NullableColumn {
    static var nullColumnValue: Self { nil }
}

extension Model {
    /// Decodes through `Codable`: the default when `@Table` did not generate this initializer.
    public init(row: RowReader) throws {
        try self.init(from: row.codableDecoder)
    }
}

/// The keyed container a model decodes from when it decodes through `Codable`: every call forwards
/// to a ``RowReader``.
private struct RowDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: RowReader
    var decoder: ModelDecoder { row.decoder }
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.statement.columnNames.compactMap { Key(stringValue: $0) } }

    init(decoder: ModelDecoder) {
        row = RowReader(decoder)
    }

    func contains(_ key: Key) -> Bool {
        decoder.statement.columnIndexByName[decoder.naming.column(for: key.stringValue)] != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool { row.isNull(key.stringValue) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try row.read(key.stringValue) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try row.read(key.stringValue) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try row.read(key.stringValue) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try row.read(key.stringValue) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try row.read(key.stringValue) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try row.read(key.stringValue) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try row.read(key.stringValue) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try row.read(key.stringValue) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try row.read(key.stringValue) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try row.read(key.stringValue) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try row.read(key.stringValue) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try row.read(key.stringValue) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try row.read(key.stringValue) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try row.read(key.stringValue) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.decodeValue(T.self, key: key.stringValue, column: row.column(key.stringValue))
    }

    // The optional forms look the key up once: NULL (or no such column) is nil.
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try row.read(key.stringValue) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try row.read(key.stringValue) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try row.read(key.stringValue) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try row.read(key.stringValue) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try decodeNil(forKey: key) ? nil : decode(T.self, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        throw decoder.mismatch(key.stringValue, -1, expected: "a column value, not a nested container")
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw decoder.mismatch(key.stringValue, -1, expected: "a column value, not a nested container")
    }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

/// Feeds one column value to a type that decodes a single value (raw-value enums, wrappers).
private struct SingleValueReader: Decoder, SingleValueDecodingContainer {
    let value: DatabaseValue
    let options: MappingOptions
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw CompositeMarker()
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw CompositeMarker() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try IntegerColumn.read(Int64.self, from: value) != 0 }
    func decode(_ type: String.Type) throws -> String {
        guard case .text(let text) = value else { throw ValueDecoding.Failure() }
        return text
    }
    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .real(let d): return d
        case .integer(let n): return Double(n)
        default: throw ValueDecoding.Failure()
        }
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try IntegerColumn.read(Int.self, from: value) }
    func decode(_ type: Int8.Type) throws -> Int8 { try IntegerColumn.read(Int8.self, from: value) }
    func decode(_ type: Int16.Type) throws -> Int16 { try IntegerColumn.read(Int16.self, from: value) }
    func decode(_ type: Int32.Type) throws -> Int32 { try IntegerColumn.read(Int32.self, from: value) }
    func decode(_ type: Int64.Type) throws -> Int64 { try IntegerColumn.read(Int64.self, from: value) }
    func decode(_ type: UInt.Type) throws -> UInt { try IntegerColumn.read(UInt.self, from: value) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try IntegerColumn.read(UInt8.self, from: value) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try IntegerColumn.read(UInt16.self, from: value) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try IntegerColumn.read(UInt32.self, from: value) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try IntegerColumn.read(UInt64.self, from: value) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try ValueDecoding.decode(T.self, from: value, options: options, json: JSONDecoder())
    }
}
