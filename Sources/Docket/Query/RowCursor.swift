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
    /// `true` when the unit of work loads these rows: ``Model/decodeRows(_:)`` then also keeps a
    /// second copy of each row, as loaded, for dirty tracking.
    ///
    /// Sharing one array between the caller and the identity map would defer that copy to the
    /// caller's first change, which then copies every row while its strings have long left the
    /// cache (a cache miss per retain). Copying each row as it is decoded costs a fraction of that.
    public let keepsSnapshot: Bool
    private(set) var snapshot: Any?

    init<M: Model>(statement: Statement, model: M.Type, collectingKeys: Bool, keepingSnapshot: Bool = false) {
        self.statement = statement
        decoder = ModelDecoder(statement: statement, model: M.self)
        reader = RowReader(decoder)
        keys = collectingKeys ? [] : nil
        keyColumnName = M.primaryKeyColumn
        keepsSnapshot = keepingSnapshot
    }

    /// Hands over the rows as loaded (see ``keepsSnapshot``).
    public func keep<M: Model>(snapshot rows: [M]) { snapshot = rows }

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
