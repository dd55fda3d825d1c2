import Foundation

/// One fetched row: column names shared by every row of a result, and the row's values.
public struct Row: Sendable, Hashable, CustomStringConvertible {
    /// The result's column names, in order.
    public let columns: [String]
    /// The values, in column order.
    public let values: [DatabaseValue]

    public init(columns: [String], values: [DatabaseValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value of the first column named `column`, or `nil` if the row has no such column.
    public subscript(_ column: String) -> DatabaseValue? {
        columns.firstIndex(of: column).map { values[$0] }
    }

    /// The value at a 0-based column index.
    public subscript(_ index: Int) -> DatabaseValue { values[index] }

    public var description: String {
        "[" + zip(columns, values).map { "\($0): \($1.sqlLiteral)" }.joined(separator: ", ") + "]"
    }
}
