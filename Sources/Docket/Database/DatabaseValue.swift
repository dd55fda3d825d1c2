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
