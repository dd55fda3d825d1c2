import CSQLite
import Foundation

/// Where each decoded key's column is, memoized on the statement for one model type.
///
/// Built while decoding the first row; later rows follow the same key order, so each key costs
/// one string comparison and no hashing.
final class DecodingPlan {
    let modelType: ObjectIdentifier
    var keys: [String] = []
    var columns: [Int32] = []
    var byKey: [String: Int32] = [:]

    init(modelType: ObjectIdentifier) { self.modelType = modelType }
}

/// Decodes models straight from the current row of a prepared statement.
final class ModelDecoder<M: Model>: Decoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let statement: Statement
    private var plan: DecodingPlan
    private var cursor = 0
    private lazy var json = JSONDecoder()

    init(statement: Statement) {
        self.statement = statement
        if let plan = statement.decodingPlan as? DecodingPlan, plan.modelType == ObjectIdentifier(M.self) {
            self.plan = plan
        } else {
            plan = DecodingPlan(modelType: ObjectIdentifier(M.self))
            statement.decodingPlan = plan
        }
    }

    /// Decodes the statement's current row.
    func decodeRow() throws -> M {
        cursor = 0
        if statement.decodingPlan !== plan {
            // The statement was re-prepared after a schema change: its columns may have moved.
            plan = DecodingPlan(modelType: ObjectIdentifier(M.self))
            statement.decodingPlan = plan
        }
        do {
            return try M(from: self)
        } catch let error as MappingError {
            throw error
        } catch let error as DecodingError {
            throw MappingError(
                model: "\(M.self)", column: nil, message: "could not decode \(M.self): \(describe(error))")
        }
    }

    /// The result column of a key, or -1 when the row has none.
    @inline(__always) func column(for key: String) -> Int32 {
        // `decodeIfPresent` asks for one key twice (is it NULL? then its value): answer the second
        // time from the previous step instead of falling out of step with the plan.
        if cursor > 0, cursor <= plan.keys.count, plan.keys[cursor - 1] == key { return plan.columns[cursor - 1] }
        if cursor < plan.keys.count, plan.keys[cursor] == key {
            defer { cursor += 1 }
            return plan.columns[cursor]
        }
        if let column = plan.byKey[key] { return column }
        let column = statement.columnIndexByName[M.columnNaming.column(for: key)] ?? -1
        plan.byKey[key] = column
        if cursor == plan.keys.count {
            plan.keys.append(key)
            plan.columns.append(column)
            cursor += 1
        }
        return column
    }

    func columnName(_ key: String) -> String { "\(M.tableName).\(M.columnNaming.column(for: key))" }

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
        var message = "\(columnName(key)) \(held); \(M.self).\(key) expects \(expected)"
        if let detail { message += " (\(detail))" }
        return MappingError(model: "\(M.self)", column: columnName(key), message: message)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        // `KeyedDecodingContainer(…)` allocates a type-erasing box on every call: once per row. The
        // container holds nothing but this decoder, so one box serves every row of the statement.
        // The box is kept as the container's only stored property (a class reference, checked by
        // size); `finish()` releases it, breaking the box → container → decoder cycle.
        if cachedKeyType == ObjectIdentifier(Key.self), let box = cachedBox {
            return unsafeBitCast(box, to: KeyedDecodingContainer<Key>.self)
        }
        let container = KeyedDecodingContainer(RowDecodingContainer<M, Key>(decoder: self))
        if MemoryLayout<KeyedDecodingContainer<Key>>.size == MemoryLayout<AnyObject>.size {
            cachedBox = unsafeBitCast(container, to: AnyObject.self)
            cachedKeyType = ObjectIdentifier(Key.self)
        }
        return container
    }

    private var cachedBox: AnyObject?
    private var cachedKeyType: ObjectIdentifier?

    /// Releases the cached container; call when done with the statement.
    func finish() {
        cachedBox = nil
        cachedKeyType = nil
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw MappingError(model: "\(M.self)", column: nil, message: "\(M.self) must decode from a keyed container")
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw MappingError(model: "\(M.self)", column: nil, message: "\(M.self) must decode from a keyed container")
    }

    func decodeValue<T: Decodable>(_ type: T.Type, key: String) throws -> T {
        let column = column(for: key)
        guard column >= 0 else { throw mismatch(key, column, expected: "\(T.self)") }
        let value = statement.value(column)
        do {
            return try ValueDecoding.decode(T.self, from: value, options: M.mappingOptions, json: json)
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

private struct RowDecodingContainer<M: Model, Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: ModelDecoder<M>
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.statement.columnNames.compactMap { Key(stringValue: $0) } }

    private var statement: Statement { decoder.statement }

    func contains(_ key: Key) -> Bool {
        decoder.statement.columnIndexByName[M.columnNaming.column(for: key.stringValue)] != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        let column = decoder.column(for: key.stringValue)
        return column < 0 || statement.columnType(column) == SQLITE_NULL
    }

    @inline(__always) private func integer<T: FixedWidthInteger>(
        _ type: T.Type, _ key: Key, expected: String = "\(T.self)"
    ) throws -> T {
        let column = decoder.column(for: key.stringValue)
        if column >= 0, statement.columnType(column) == SQLITE_INTEGER {
            let n = statement.int64(column)
            if let v = T(exactly: n) { return v }
            throw decoder.mismatch(key.stringValue, column, expected: expected, detail: "out of range")
        }
        throw decoder.mismatch(key.stringValue, column, expected: expected)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try integer(Int64.self, key, expected: "Bool") != 0
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(Int.self, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(Int8.self, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(Int16.self, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(Int32.self, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(Int64.self, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(UInt.self, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(UInt8.self, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(UInt16.self, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(UInt32.self, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(UInt64.self, key) }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try double(key, expected: "Double") }

    private func double(_ key: Key, expected: String) throws -> Double {
        let column = decoder.column(for: key.stringValue)
        if column >= 0 {
            let type = statement.columnType(column)
            // An INTEGER is a valid Double: SQLite stores whole REALs of a column with no REAL affinity,
            // and aggregates such as sum(), as INTEGER.
            if type == SQLITE_FLOAT || type == SQLITE_INTEGER { return statement.double(column) }
        }
        throw decoder.mismatch(key.stringValue, column, expected: expected)
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try double(key, expected: "Float")) }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        let column = decoder.column(for: key.stringValue)
        if column >= 0, statement.columnType(column) == SQLITE_TEXT {
            if let text = statement.text(column) { return text }
        }
        throw decoder.mismatch(key.stringValue, column, expected: "String")
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.decodeValue(T.self, key: key.stringValue)
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try decodeNil(forKey: key) ? nil : decode(String.self, forKey: key)
    }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        try decodeNil(forKey: key) ? nil : decode(Int64.self, forKey: key)
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try decodeNil(forKey: key) ? nil : decode(Int.self, forKey: key)
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try decodeNil(forKey: key) ? nil : decode(Double.self, forKey: key)
    }
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
