#if Postgres
    import Docket
    import Foundation
    import PostgresNIO

    /// A parameter sent as text with no type (OID 0): the server infers the type from where the
    /// parameter stands, as libpq does with text parameters. So the values Docket's encoder writes
    /// (integers for `Bool`, ISO-8601 text for `Date`, text for `UUID` and `Decimal`) reach columns of
    /// type `boolean`, `timestamptz`, `uuid` or `numeric` without a cast in the SQL.
    struct UntypedText: PostgresDynamicTypeEncodable {
        let text: String
        var psqlType: PostgresDataType { .null }
        var psqlFormat: PostgresFormat { .text }
        func encode<JSONEncoder: PostgresJSONEncoder>(
            into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
        ) {
            byteBuffer.writeString(text)
        }
    }

    extension PostgresBindings {
        /// `bytea`'s hex input form, `\x0001fe`, written byte by byte into one string.
        static func hex(_ data: Data) -> String {
            let digits = Array("0123456789abcdef".utf8)
            return String(unsafeUninitializedCapacity: 2 + 2 * data.count) { out in
                out[0] = UInt8(ascii: "\\")
                out[1] = UInt8(ascii: "x")
                var i = 2
                for byte in data {
                    out[i] = digits[Int(byte >> 4)]
                    out[i + 1] = digits[Int(byte & 0xF)]
                    i += 2
                }
                return i
            }
        }

        /// Bindings of Docket values, in order: each as untyped text, a blob as `bytea`'s hex form.
        init(_ values: [DatabaseValue]) {
            self.init(capacity: values.count)
            for value in values {
                switch value {
                case .null: appendNull()
                case .integer(let v): append(UntypedText(text: String(v)))
                case .real(let v):
                    append(UntypedText(text: v.isFinite ? "\(v)" : v.isNaN ? "NaN" : v > 0 ? "Infinity" : "-Infinity"))
                case .text(let v): append(UntypedText(text: v))
                case .blob(let v): append(UntypedText(text: Self.hex(v)))
                }
            }
        }
    }

    /// A result column whose type Docket cannot read into a ``DatabaseValue``.
    public struct PostgresValueError: Error, Sendable, CustomStringConvertible {
        public let column: String
        public let type: String
        public let sql: String
        public var description: String {
            "cannot read column \(column) of type \(type) into a Docket value (in SQL: \(sql)); "
                + "cast it in the query, e.g. \(column)::text"
        }
    }

    extension DatabaseValue {
        /// The value of one result cell: integers (and `boolean`, as 0 or 1), floating point, text
        /// (also `numeric`, `uuid`, `json`, dates and times, as their text), and `bytea` as a blob.
        init(_ cell: PostgresCell, sql: String) throws {
            guard cell.bytes != nil else {
                self = .null
                return
            }
            switch cell.dataType {
            case .int2: self = .integer(Int64(try cell.decode(Int16.self)))
            case .int4: self = .integer(Int64(try cell.decode(Int32.self)))
            case .int8, .oid: self = .integer(try cell.decode(Int64.self))
            case .bool: self = .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .float4: self = .real(Double(try cell.decode(Float.self)))
            case .float8: self = .real(try cell.decode(Double.self))
            case .bytea: self = .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
            case .uuid: self = .text(try cell.decode(UUID.self).uuidString.lowercased())
            case .timestamptz, .timestamp, .date:
                // As Docket writes dates: UTC, with milliseconds (`2024-05-01T12:30:00.250Z`).
                self = .text(
                    try cell.decode(Date.self).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            case .numeric:
                // As Decimal's text, which is how Docket writes a Decimal (38 significant digits).
                self = .text(try cell.decode(Decimal.self).description)
            case .text, .varchar, .bpchar, .name, .json, .jsonb, .unknown:
                self = .text(try cell.decode(String.self))
            default:
                // Never read another type's binary form as text: that would be a wrong value, not an error.
                throw PostgresValueError(column: cell.columnName, type: "\(cell.dataType)", sql: sql)
            }
        }
    }
#endif
