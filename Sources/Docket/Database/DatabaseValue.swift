import Foundation

/// One SQLite value: the five storage classes of https://sqlite.org/datatype3.html.
public enum DatabaseValue: Hashable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)

    /// The storage class name as SQLite spells it: INTEGER, REAL, TEXT, BLOB or NULL.
    public var storageClass: String {
        switch self {
        case .null: "NULL"
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text: "TEXT"
        case .blob: "BLOB"
        }
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    /// The value as it would read in an error message: `TEXT 'abc'`, `INTEGER 3`, `BLOB (16 bytes)`.
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return "INTEGER \(v)"
        case .real(let v): return "REAL \(v)"
        case .text(let v):
            let shown = v.count > 40 ? String(v.prefix(40)) + "…" : v
            return "TEXT '\(shown)'"
        case .blob(let v): return "BLOB (\(v.count) bytes)"
        }
    }

    /// The value as an SQL literal, for printing plans and dry runs (never for executing).
    public var sqlLiteral: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let v): return "'" + v.replacingOccurrences(of: "'", with: "''") + "'"
        case .blob(let v): return "X'" + v.map { String(format: "%02X", $0) }.joined() + "'"
        }
    }
}

// MARK: Reading values

extension DatabaseValue {
    /// The integer of an INTEGER value, else `nil`.
    ///
    /// ```swift
    /// let count = try db.blocking.read { try $0.scalar("SELECT count(*) FROM books") }.integerValue  // Int64?
    /// ```
    public var integerValue: Int64? { if case .integer(let v) = self { v } else { nil } }
    /// The number of a REAL value, or of an INTEGER value converted to `Double` (exactly, when it
    /// fits in 53 bits), else `nil`.
    public var doubleValue: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    /// The text of a TEXT value, else `nil`.
    public var textValue: String? { if case .text(let v) = self { v } else { nil } }
    /// The bytes of a BLOB value, else `nil`.
    public var dataValue: Data? { if case .blob(let v) = self { v } else { nil } }
}

/// A Swift type that a single column value can be read as: the typed forms of
/// ``Connection/scalar(_:_:_:)`` and ``DatabaseValue/as(_:)``.
public protocol DatabaseValueReadable: Sendable {
    /// The value read from `value`, or `nil` when `value` is not of this type's storage class (or
    /// does not fit, for a narrower integer).
    init?(databaseValue value: DatabaseValue)
}

extension Int64: DatabaseValueReadable {
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.integerValue else { return nil }
        self = v
    }
}
extension Int: DatabaseValueReadable {
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.integerValue, let fitted = Int(exactly: v) else { return nil }
        self = fitted
    }
}
extension Double: DatabaseValueReadable {
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.doubleValue else { return nil }
        self = v
    }
}
extension String: DatabaseValueReadable {
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.textValue else { return nil }
        self = v
    }
}
extension Data: DatabaseValueReadable {
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.dataValue else { return nil }
        self = v
    }
}
extension Bool: DatabaseValueReadable {
    /// INTEGER 0 is `false`, any other integer `true`.
    public init?(databaseValue value: DatabaseValue) {
        guard let v = value.integerValue else { return nil }
        self = v != 0
    }
}

extension DatabaseValue {
    /// The value as `T`: `nil` for NULL; throws a ``DatabaseError`` (`SQLITE_MISMATCH`) naming the
    /// value when it is of another storage class, instead of losing it as `nil`.
    ///
    /// ```swift
    /// let title = try row.values[0].as(String.self)   // String?
    /// ```
    public func `as`<T: DatabaseValueReadable>(_ type: T.Type) throws -> T? {
        if isNull { return nil }
        guard let value = T(databaseValue: self) else {
            throw DatabaseError(
                resultCode: 20, message: "cannot read \(description) as \(T.self): it is stored as \(storageClass)")
        }
        return value
    }
}

/// A Swift value that can be bound as a statement argument.
public protocol DatabaseValueConvertible: Sendable {
    var databaseValue: DatabaseValue { get }
}

extension DatabaseValue: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { self }
}
extension Int: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
}
extension Int64: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(self) }
}
extension Int32: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
}
extension Double: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .real(self) }
}
extension Bool: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .integer(self ? 1 : 0) }
}
extension String: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .text(self) }
}
extension Data: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { .blob(self) }
}
extension UUID: DatabaseValueConvertible {
    /// UUIDs bound as arguments are text, matching the default model strategy.
    public var databaseValue: DatabaseValue { .text(uuidString) }
}
extension Optional: DatabaseValueConvertible where Wrapped: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { self?.databaseValue ?? .null }
}
