import CSQLite

/// The queued changes of one model type, as the writer receives them: plain `Sendable` data.
protocol FlushBatch: Sendable {
    var table: String { get }
    /// The model type's name, as changes name it in messages.
    var modelName: String { get }
    /// The row with primary key `key` as the model's encoder writes it (decoded, then encoded), by
    /// column; `nil` when there is no such row. Read only when a compare-and-set matched nothing.
    func canonicalRow(key: DatabaseValue, on db: Connection) throws -> [String: DatabaseValue]?
    /// `ObjectIdentifier` of the model type.
    var modelTypeID: ObjectIdentifier { get }
    /// Every live row is an insert with no self-referencing concerns: eligible for the fast path.
    var insertsOnly: Bool { get }
    /// `true` when some row links to another queued row's generated key.
    var hasLinks: Bool { get }
    /// The change index of the first live row.
    var firstChangeIndex: Int32 { get }
    /// Sets `rankOfIndex[i]` to `rank` for each of this batch's change indexes `i`.
    func mark(rank: Int32, in rankOfIndex: UnsafeMutableBufferPointer<Int32>)
    /// `true` when every row this batch's rows link to (by generated keys) has a rank in
    /// `rankOfIndex` below `rank`: it is written by an earlier batch.
    func parentsRanked(below rank: Int32, in rankOfIndex: UnsafeBufferPointer<Int32>) -> Bool
    /// Encodes every live row into a ``RowChange`` (the general planner's input).
    func rowChanges() throws -> [RowChange]
    /// Every live row is an update and no row links to a queued insert: eligible for the update
    /// fast path.
    var updatesOnly: Bool { get }
    /// `true` when two or more of the queued updates write a column of one of the table's unique
    /// indexes: they may exchange values, which only the planner orders. Read on the writer, from
    /// the encodings the caller made.
    func mayExchangeUniqueValues(catalog: some PlannerCatalog) throws -> Bool
    /// Runs every queued update in row order (the planner's order for updates of one table), each
    /// writing only the columns that differ from the row as loaded; records written versions in
    /// `result`.
    func updateAll(on db: Connection, result: inout FlushResult) throws
    /// Inserts every row, in queue order, with one cached statement, binding each model straight
    /// into it; records generated keys in `result`.
    func insertAll(on db: Connection, result: inout FlushResult) throws
}

/// An updated row encoded on the caller's side (new values and the row as loaded).
struct EncodedUpdate: Sendable {
    let values: [DatabaseValue]
    let snapshot: [DatabaseValue]
    /// The row's slot in the identity map, for writing it back after the commit.
    let slot: Int
}

/// A queued row's link, resolved for the writer: its linked property and its parent's change index.
///
/// Not nested in the generic `ModelBatch`: an array of a nested type would look up its generic
/// metadata at every use, which showed in small commits' profiles.
struct BatchLink: Sendable {
    let row: Int
    /// Index into `linkKeys`: which linked property.
    let spec: Int
    let parent: Int
}

struct ModelBatch<M: Model>: FlushBatch {
    let models: [M]
    let book: RowBook
    let indexes: ChangeIndexMap
    let links: [BatchLink]
    let linkKeys: [String]
    let snapshots: [Int: M]
    let encodedUpdates: [Int: EncodedUpdate]
    let upserts: [Int: UpsertSpec]
    let versionKey: String?
    let access: RowAccess<M>

    /// Read on the writer only when a commit's shape is new or needs the planner.
    var table: String { M.tableName }

    var modelTypeID: ObjectIdentifier { ObjectIdentifier(M.self) }

    var modelName: String { typeName(M.self) }

    func canonicalRow(key: DatabaseValue, on db: Connection) throws -> [String: DatabaseValue]? {
        let sql = "SELECT * FROM \(quoteIdentifier(table)) WHERE \(quoteIdentifier(M.primaryKeyColumn)) = ?"
        guard let model = try M.fetchAll(db, sql: sql, [key]).first else { return nil }
        let encoder = ModelEncoder<M>()
        let values = try encoder.encode(model)
        return Dictionary(zip(encoder.columns, values), uniquingKeysWith: { first, _ in first })
    }

    var insertsOnly: Bool { book.isUniform || book.kinds.allSatisfy { $0 == .insert || $0 == .dropped } }

    var updatesOnly: Bool {
        links.isEmpty && !book.isUniform && book.kinds.allSatisfy { $0 == .update || $0 == .dropped }
    }

    var hasLinks: Bool { !links.isEmpty }

    var firstChangeIndex: Int32 {
        for row in 0..<models.count where indexes[row] >= 0 { return indexes[row] }
        return 0
    }

    func mark(rank: Int32, in rankOfIndex: UnsafeMutableBufferPointer<Int32>) {
        for row in 0..<models.count where indexes[row] >= 0 { rankOfIndex[Int(indexes[row])] = rank }
    }

    func parentsRanked(below rank: Int32, in rankOfIndex: UnsafeBufferPointer<Int32>) -> Bool {
        links.allSatisfy { rankOfIndex[$0.parent] >= 0 && rankOfIndex[$0.parent] < rank }
    }

    private func label(_ row: Int) -> String { "\(typeName(M.self)) #\(Int(indexes[row]) + 1)" }

    func rowChanges() throws -> [RowChange] {
        let encoder = ModelEncoder<M>()
        encoder.ensureKeys(Array(Set(linkKeys)) + (versionKey.map { [$0] } ?? []))
        var rows: [(row: Int, values: [DatabaseValue], snapshot: [DatabaseValue]?)] = []
        for row in 0..<models.count where book.kind(row) != .dropped {
            let encoded = try encode(row, with: encoder)
            rows.append((row, encoded.values, encoded.snapshot))
        }
        let columns = encoder.columns
        let linkSlots = linkKeys.map { encoder.keys.firstIndex(of: $0) }
        let keySlot = encoder.keys.firstIndex(of: M.primaryKeyCodingKey)!
        let versionSlot = versionKey.flatMap { encoder.keys.firstIndex(of: $0) }
        // Read once: the table name of a type without its own is looked up under a lock.
        let (table, name, generatable) = (table, typeName(M.self), encoder.generatesKeys)
        var linkCursor = 0
        return try rows.map { entry in
            let row = entry.row
            guard book.kind(row) == .insert || book.kind(row) == .upsert || !models[row].id.isUnset else {
                throw UnitOfWorkError.missingKey(change: label(row))
            }
            var rowLinks: [RowChange.Link] = []
            while linkCursor < links.count, links[linkCursor].row < row { linkCursor += 1 }
            while linkCursor < links.count, links[linkCursor].row == row {
                if let slot = linkSlots[links[linkCursor].spec] {
                    rowLinks.append(.init(slot: slot, parent: links[linkCursor].parent))
                }
                linkCursor += 1
            }
            let kind: RowChange.Kind =
                switch book.kind(row) {
                case .insert: .insert
                case .update: .update
                case .delete: .delete
                default:
                    .upsert(
                        conflictColumns: upserts[row]?.conflictColumns ?? [],
                        doNothing: upserts[row]?.doNothing ?? false)
                }
            return RowChange(
                index: Int(indexes[row]), kind: kind, table: table, model: name, columns: columns,
                values: padded(entry.values, to: columns.count),
                snapshot: entry.snapshot.map { padded($0, to: columns.count) }, keySlot: keySlot,
                generatesKey: generatable && models[row].id.isUnset, links: rowLinks,
                versionSlot: versionSlot, comparesChangedColumns: !M.lastWriteWins)
        }
    }

    /// Row `row`'s column values and, when it was loaded, the row as loaded (not padded to the
    /// layout): the encodings the caller made for its no-op check, else encoded here. A loaded
    /// row's delete writes the values it was loaded with (its version among them).
    private func encode(_ row: Int, with encoder: ModelEncoder<M>) throws -> (
        values: [DatabaseValue], snapshot: [DatabaseValue]?
    ) {
        if let encoded = encodedUpdates[row] { return (encoded.values, encoded.snapshot) }
        let snapshot = try snapshots[row].map { try encoder.encode($0) }
        if book.kind(row) == .delete, let snapshot { return (snapshot, snapshot) }
        return (try encoder.encode(models, row: row, with: access), snapshot)
    }

    func mayExchangeUniqueValues(catalog: some PlannerCatalog) throws -> Bool {
        var updates = 0
        for row in 0..<models.count where book.kind(row) == .update {
            updates += 1
            if updates > 1 { break }
        }
        guard updates > 1 else { return false }
        let indexes = try catalog.table(table).uniqueIndexes
        guard !indexes.isEmpty else { return false }
        let columns = catalog.columns(of: M.self)
        let slots = Set(indexes.flatMap { $0.columns }).compactMap { columns.firstIndex(of: $0) }
        var writing = 0
        for row in 0..<models.count where book.kind(row) == .update {
            // A row not loaded through the unit of work writes every column.
            guard let encoded = encodedUpdates[row] else {
                writing += 1
                if writing > 1 { return true }
                continue
            }
            let changes = slots.contains { slot in
                (slot < encoded.values.count ? encoded.values[slot] : .null)
                    != (slot < encoded.snapshot.count ? encoded.snapshot[slot] : .null)
            }
            if changes {
                writing += 1
                if writing > 1 { return true }
            }
        }
        return false
    }

    func updateAll(on db: Connection, result: inout FlushResult) throws {
        let encoder = ModelEncoder<M>.reused(on: db)
        if let versionKey { encoder.ensureKeys([versionKey]) }
        let keySlot = encoder.keys.firstIndex(of: M.primaryKeyCodingKey)!
        let versionSlot = versionKey.flatMap { encoder.keys.firstIndex(of: $0) }
        let (table, name, compares) = (table, typeName(M.self), !M.lastWriteWins)
        // Updated rows usually change (and compare) the same columns: one statement serves a run of
        // them. A row not loaded compares nothing, so the compared slots are part of the shape.
        var shape: (slots: [Int], compared: [Int], statement: Statement)?
        for row in 0..<models.count where book.kind(row) == .update {
            guard !models[row].id.isUnset else { throw UnitOfWorkError.missingKey(change: label(row)) }
            let (encoded, snapshot) = try encode(row, with: encoder)
            let columns = encoder.columns
            let values = padded(encoded, to: columns.count)
            let change = RowChange(
                index: Int(indexes[row]), kind: .update, table: table, model: name, columns: columns, values: values,
                snapshot: snapshot.map { padded($0, to: columns.count) }, keySlot: keySlot, generatesKey: false,
                links: [], versionSlot: versionSlot, comparesChangedColumns: compares)
            let slots = FlushPlanner.changedSlots(change)
            guard !slots.isEmpty else { continue }
            let compared = change.comparedSlots(slots)
            if shape?.slots != slots || shape?.compared != compared {
                let sql = FlushExecutor.updateSQL(change, slots: slots, compared: compared, dialect: db.dialect)
                shape = (slots, compared, try db.cachedStatement(sql))
            }
            if let version = try FlushExecutor.update(
                change, slots: slots, compared: compared, statement: shape!.statement, on: db, value: { values[$0] },
                canonical: { try canonicalRow(key: $0, on: db) })
            {
                result.versions[change.index] = version
            }
        }
    }

    func insertAll(on db: Connection, result: inout FlushResult) throws {
        guard let first = (0..<models.count).first(where: { book.kind($0) != .dropped }) else { return }
        let encoder = ModelEncoder<M>.reused(on: db)
        encoder.ensureKeys(linkKeys)
        // The first encoding settles the column layout; every row is then bound straight into
        // one cached statement.
        _ = try encoder.encode(models, row: first, with: access)
        let keys = encoder.keys
        // Parameter index of each linked property, resolved once per batch.
        let linkSlots = linkKeys.map { keys.firstIndex(of: $0) }
        let statement = try db.cachedStatement(encoder.insertSQL())
        let generates = encoder.generatesKeys
        var linkCursor = 0
        for row in 0..<models.count where book.kind(row) != .dropped {
            do {
                try encoder.bind(models, row: row, with: access, to: statement)
                while linkCursor < links.count, links[linkCursor].row < row { linkCursor += 1 }
                while linkCursor < links.count, links[linkCursor].row == row {
                    let link = links[linkCursor]
                    if let slot = linkSlots[link.spec].map({ Int32($0 + 1) }) {
                        if let key = result.key(link.parent) {
                            sqlite3_bind_int64(statement.handle, slot, key)
                        } else {
                            sqlite3_bind_null(statement.handle, slot)
                        }
                    }
                    linkCursor += 1
                }
                try statement.run()
            } catch let error as DatabaseError {
                // Encode the failing row again, with its linked keys, to say which value was at fault.
                var values = (try? encoder.encode(models, row: row, with: access)) ?? []
                for link in links where link.row == row {
                    if let slot = linkSlots[link.spec], slot < values.count, let key = result.key(link.parent) {
                        values[slot] = .integer(key)
                    }
                }
                let change = RowChange(
                    index: Int(indexes[row]), kind: .insert, table: table, model: typeName(M.self),
                    columns: encoder.columns, values: values, snapshot: nil,
                    keySlot: keys.firstIndex(of: M.primaryKeyCodingKey) ?? 0, generatesKey: false, links: [],
                    versionSlot: nil)
                throw FlushExecutor.explained(error, change: change, on: db)
            }
            let index = Int(indexes[row])
            if let key = access.integerKey(models, row) {
                result.setKey(key, at: index)
            } else if generates {
                result.setKey(db.lastInsertRowID, at: index)
            }
        }
    }
}

/// A row encoded before the layout grew is shorter than the layout: its absent columns are NULL.
private func padded(_ row: [DatabaseValue], to count: Int) -> [DatabaseValue] {
    row.count >= count ? row : row + repeatElement(.null, count: count - row.count)
}
