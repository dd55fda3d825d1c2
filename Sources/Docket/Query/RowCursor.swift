import CSQLite

/// The rows of a query being decoded, one at a time: what ``Model/decodeRows(_:)`` steps through.
///
/// When the unit of work loads rows through its identity map, the cursor also reads each row's
/// integer key as it steps, so the map needs no second pass over the models.
public final class RowCursor {
    let statement: Statement
    let decoder: ModelDecoder
    /// The current row's reader: valid after ``next()`` returned `true`, until the next call.
    public let reader: RowReader
    /// The integer key of each row stepped over, when collecting and every key so far was an integer.
    private(set) var keys: [Int64]?
    /// The key's result column: -2 until looked up, -1 when the result has none.
    private var keyColumn: Int32 = -2
    private let keyColumnName: String

    init<M: Model>(statement: Statement, model: M.Type, collectingKeys: Bool) {
        self.statement = statement
        decoder = ModelDecoder(statement: statement, model: M.self)
        reader = RowReader(decoder)
        keys = collectingKeys ? [] : nil
        keyColumnName = M.primaryKeyColumn
    }

    /// Steps to the next row; `false` once there is none.
    public func next() throws -> Bool {
        guard try statement.step() else { return false }
        decoder.beginRow()
        if keys != nil {
            if keyColumn == -2 { keyColumn = statement.columnIndexByName[keyColumnName] ?? -1 }
            if keyColumn >= 0, statement.columnType(keyColumn) == SQLITE_INTEGER {
                keys!.append(statement.int64(keyColumn))
            } else {
                keys = nil
            }
        }
        return true
    }

    /// Saves the decoding plan on the statement for its next use.
    func finish() { decoder.finish() }
}
