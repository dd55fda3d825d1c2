import CSQLite

/// What a flush hands back to the unit of work: keys the database generated, and new versions.
struct FlushResult: Sendable {
    /// Integer key of each change that has one (generated or supplied), by change index.
    private var keys: KeyTable
    /// The version written by each versioned update, by change index.
    var versions: [Int: Int] = [:]

    init(count: Int) {
        keys = KeyTable(count: count)
    }

    /// The key of change `index`, if it has one.
    func key(_ index: Int) -> Int64? { keys[index] }

    mutating func setKey(_ key: Int64, at index: Int) { keys.set(key, at: index) }
}

/// Integer keys by change index.
///
/// The keys a bulk insert generates count up by one, row after row, so they are kept as runs
/// (first change index, first key, length): a million generated keys take one run, not 8 MB. A key
/// that continues no run starts one; a key set out of order, or runs outnumbering an eighth of the
/// changes, switch the table to a flat array.
struct KeyTable: Sendable {
    private struct Run: Sendable {
        let index: Int
        let key: Int64
        var count: Int
    }
    /// Marks a change without a key in `flat`.
    private static let none = Int64.min
    private var runs: [Run] = []
    /// Every change's key (or ``none``), once runs no longer fit; empty until then.
    private var flat: [Int64] = []
    let count: Int

    init(count: Int) {
        self.count = count
    }

    subscript(index: Int) -> Int64? {
        if !flat.isEmpty { return flat[index] == Self.none ? nil : flat[index] }
        // The last run starting at or before `index`.
        var low = 0
        var high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].index <= index { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let run = runs[low - 1]
        return index < run.index + run.count ? run.key &+ Int64(index - run.index) : nil
    }

    mutating func set(_ key: Int64, at index: Int) {
        precondition(index >= 0 && index < count, "KeyTable: change index \(index) out of range")
        if flat.isEmpty {
            guard let last = runs.last else {
                runs.append(Run(index: index, key: key, count: 1))
                return
            }
            let end = last.index + last.count
            if index == end, key == last.key &+ Int64(last.count) {
                runs[runs.count - 1].count += 1
                return
            }
            if index >= end, runs.count < count / 8 + 16 {
                runs.append(Run(index: index, key: key, count: 1))
                return
            }
            flatten()
        }
        flat[index] = key
    }

    private mutating func flatten() {
        flat = Array(repeating: Self.none, count: count)
        for run in runs {
            for i in 0..<run.count { flat[run.index + i] = run.key &+ Int64(i) }
        }
        runs = []
    }
}

/// Runs a ``FlushPlan`` on the writer connection, inside the write job's transaction. It decides
/// nothing about order: it binds, steps, checks row counts, and explains failures.
enum FlushExecutor {
    /// Runs a unit of work's queued changes the way the planner routes them
    /// (``FlushPlanner/route(_:count:catalog:)``).
    static func flush(_ batches: [any FlushBatch], count: Int, on db: Connection) throws -> FlushResult {
        // The schema version is checked once; table metadata is then read only when a path needs it.
        try db.schemaCache.checkVersion(on: db)
        let catalog = ConnectionCatalog(db: db)
        switch try FlushPlanner.route(batches, count: count, catalog: catalog) {
        case .updates(let batch):
            var result = FlushResult(count: count)
            let violationsBefore = deferredViolations(db)
            try batch.updateAll(on: db, result: &result)
            if deferredViolations(db) > violationsBefore {
                let schema = try catalog.tablesWithParents([batch.table])
                let plan = try FlushPlanner.plan(batch.rowChanges(), schema: schema)
                throw foreignKeyViolation(plan, schema: schema, result: result, db)
            }
            return result
        case .inserts(let ordered):
            // Parents come first, so foreign keys are checked as each row is written.
            var result = FlushResult(count: count)
            for batch in ordered { try batch.insertAll(on: db, result: &result) }
            return result
        case .planned(let plan, let schema):
            return try run(plan, schema: schema, on: db, batches: batches)
        }
    }

    /// Plans `changes` against the connection's schema and runs the plan.
    static func flush(_ changes: [RowChange], on db: Connection) throws -> FlushResult {
        let schema = try db.schemaCache.tablesWithParents(changes.map { $0.table }, on: db)
        let plan = try FlushPlanner.plan(changes, schema: schema)
        return try run(plan, schema: schema, on: db)
    }

    /// Runs `plan`; `batches`, when given, are the unit of work's queued rows the plan was made
    /// from, used to tell a real conflict from a value stored in another form (``update``).
    static func run(
        _ plan: FlushPlan, schema: [String: TableInfo], on db: Connection, batches: [any FlushBatch] = []
    ) throws -> FlushResult {
        var result = FlushResult(count: plan.changes.count)
        for change in plan.changes {
            if case .integer(let key) = change.key { result.setKey(key, at: change.index) }
        }
        guard !plan.isEmpty else { return result }
        // When the plan broke a cycle between rows with known keys, foreign keys are checked at the
        // end of the flush rather than per statement, so those rows can be written in any order
        // (https://sqlite.org/pragma.html#pragma_defer_foreign_keys). The count of pending violations
        // is compared before and after, so an earlier job of the same group cannot be blamed on this one.
        let violationsBefore = deferredViolations(db)
        if plan.defersForeignKeys { try db.execute("PRAGMA defer_foreign_keys = ON") }
        defer { if plan.defersForeignKeys { try? db.execute("PRAGMA defer_foreign_keys = OFF") } }
        var sqlCache: [SQLShape: String] = [:]

        for step in plan.steps {
            switch step {
            case .insert(let table, let columns, let rows):
                let sql = cached(&sqlCache, .insert(table, columns)) { db.dialect.insert(table, columns: columns) }
                let statement = try db.cachedStatement(sql)
                for row in rows {
                    let change = plan.changes[row]
                    try bindValues(change, plan: plan, result: result, to: statement)
                    try execute(statement, change, db)
                    if change.generatesKey { result.setKey(db.lastInsertRowID, at: row) }
                }
            case .update(let table, let columns, let slots, let row):
                let change = plan.changes[row]
                let compared = change.comparedSlots(slots, released: plan.releasedSlots[row] ?? [])
                let shape = SQLShape.update(
                    table, columns, change.columns[change.keySlot], change.versionSlot.map { change.columns[$0] },
                    compared.map { change.columns[$0] })
                let statement = try db.cachedStatement(
                    cached(&sqlCache, shape) {
                        updateSQL(change, slots: slots, compared: compared, dialect: db.dialect)
                    })
                let written = try update(
                    change, slots: slots, compared: compared, statement: statement, on: db,
                    value: { slot in linkedValue(change, slot: slot, plan: plan, result: result) },
                    canonical: { try canonicalRow(change, key: $0, batches: batches, on: db) })
                if let written { result.versions[row] = written }
            case .delete(let table, let rows):
                for row in rows {
                    let change = plan.changes[row]
                    let versionColumn = change.versionSlot.map { change.columns[$0] }
                    let key = change.columns[change.keySlot]
                    let sql = cached(&sqlCache, .delete(table, key, versionColumn)) {
                        db.dialect.delete(table, key: key, version: versionColumn)
                    }
                    let statement = try db.cachedStatement(sql)
                    try statement.bind(change.key, at: 1)
                    var expected: Int?
                    if let versionSlot = change.versionSlot {
                        expected = Int((change.snapshot?[versionSlot] ?? change.values[versionSlot]).integerValue ?? 0)
                        try statement.bind(.integer(Int64(expected!)), at: 2)
                    }
                    try execute(statement, change, db)
                    if let expected, db.changes == 0 {
                        throw UnitOfWorkError.staleWrite(
                            try staleRow(change, compared: [], expected: expected, on: db)
                                ?? StaleWrite(
                                    change: change.label, table: table, key: change.key, reason: .rowMissing,
                                    verb: "delete"))
                    }
                }
            case .upsert(let table, let columns, let row):
                let change = plan.changes[row]
                guard case .upsert(let conflict, let doNothing) = change.kind else { continue }
                let key = change.columns[change.keySlot]
                let sql = cached(&sqlCache, .upsert(table, columns, conflict, doNothing)) {
                    db.dialect.upsert(
                        table, columns: columns, conflict: conflict.isEmpty ? [key] : conflict, key: key,
                        doNothing: doNothing)
                }
                let statement = try db.cachedStatement(sql)
                try bindValues(change, plan: plan, result: result, to: statement)
                do {
                    if try statement.step(), statement.columnType(0) == SQLITE_INTEGER {
                        result.setKey(statement.int64(0), at: row)
                    }
                    try statement.run()
                } catch let error as DatabaseError {
                    throw error.adding(context: "\(change.verb) \(change.label) into \(change.table)").attributed(
                        to: change)
                }
            case .releaseUnique(let table, let column, let row, let value):
                let change = plan.changes[row]
                try release(
                    change, column: column, to: value, table: table, on: db,
                    canonical: { try canonicalRow(change, key: $0, batches: batches, on: db) })
            case .postUpdate(let table, let column, let row, let parent):
                let change = plan.changes[row]
                let key = change.columns[change.keySlot]
                let sql = cached(&sqlCache, .update(table, [column], key, nil, [])) {
                    db.dialect.update(table, set: [column], key: key, version: nil)
                }
                let statement = try db.cachedStatement(sql)
                try statement.bind(result.key(parent).map(DatabaseValue.integer) ?? .null, at: 1)
                try statement.bind(result.key(row).map(DatabaseValue.integer) ?? change.key, at: 2)
                try execute(statement, change, db)
            }
        }
        if deferredViolations(db) > violationsBefore {
            throw foreignKeyViolation(plan, schema: schema, result: result, db)
        }
        return result
    }

    /// `UPDATE table SET <slots' columns> WHERE key = ?`, plus the version check, or the
    /// compare-and-set of the written columns (`AND "col" IS ?` for each) for a loaded row without
    /// a version column.
    /// `compared`: the slots to compare, from ``RowChange/comparedSlots(_:released:)``.
    static func updateSQL(_ change: RowChange, slots: [Int], compared: [Int], dialect: some SQLDialect) -> String {
        dialect.update(
            change.table, set: slots.map { change.columns[$0] }, key: change.columns[change.keySlot],
            version: change.versionSlot.map { change.columns[$0] }, compare: compared.map { change.columns[$0] })
    }

    /// The row with `key` of `change`'s model as its encoder writes it, read only when a
    /// compare-and-set matched nothing: the batch is looked up then, not for every row.
    private static func canonicalRow(
        _ change: RowChange, key: DatabaseValue, batches: [any FlushBatch], on db: Connection
    ) throws -> [String: DatabaseValue]? {
        try batches.first { $0.table == change.table && $0.modelName == change.model }?.canonicalRow(key: key, on: db)
    }

    /// Sets `column` of `change`'s row aside (``FlushPlan/Step/releaseUnique(table:column:row:value:)``),
    /// checking that it still holds its loaded value, as the row's own update would have.
    private static func release(
        _ change: RowChange, column: String, to value: FlushPlan.ReleaseValue, table: String, on db: Connection,
        canonical: (DatabaseValue) throws -> [String: DatabaseValue]?
    ) throws {
        guard let slot = change.columns.firstIndex(of: column) else { return }
        let temporary: DatabaseValue
        switch value {
        case .null: temporary = .null
        case .text(let text): temporary = .text(text)
        case .integerBelowMinimum:
            let low = try db.scalar("SELECT min(\(db.dialect.quote(column))) FROM \(db.dialect.quote(table))")
            let high = try db.scalar("SELECT max(\(db.dialect.quote(column))) FROM \(db.dialect.quote(table))")
            let (below, underflow) = (low.integerValue ?? 0).subtractingReportingOverflow(1)
            let (above, overflow) = (high.integerValue ?? 0).addingReportingOverflow(1)
            guard !underflow || !overflow else {
                throw DatabaseError(
                    resultCode: SQLITE_CONSTRAINT, extendedResultCode: SQLITE_CONSTRAINT_UNIQUE,
                    message: "cannot set \(change.label) aside: \(table).\(column) holds both the smallest and the "
                        + "largest 64-bit integer, so no temporary value is free. Nothing was written")
            }
            temporary = .integer(underflow ? above : below)
        }
        let compared = change.comparedSlots([slot])
        let sql = db.dialect.update(
            table, set: [column], key: change.columns[change.keySlot], version: nil,
            compare: compared.map { change.columns[$0] })
        let statement = try db.cachedStatement(sql)
        try statement.bind(temporary, at: 1)
        try statement.bind(change.key, at: 2)
        if let snapshot = change.snapshot, !compared.isEmpty { try statement.bind(snapshot[slot], at: 3) }
        try execute(statement, change, db)
        if db.changes == 0 {
            guard let stale = try staleRow(change, compared: compared, expected: nil, on: db, canonical: canonical)
            else {
                // Only the form the value is stored in differs: set it aside by key alone.
                let byKey = try db.cachedStatement(
                    db.dialect.update(table, set: [column], key: change.columns[change.keySlot], version: nil))
                try byKey.bind(temporary, at: 1)
                try byKey.bind(change.key, at: 2)
                try execute(byKey, change, db)
                return
            }
            throw UnitOfWorkError.staleWrite(stale)
        }
    }

    /// Runs one UPDATE of `change` (its `slots`, each bound from `value`) on `statement`, made from
    /// ``updateSQL(_:slots:compared:dialect:)`` with the same `compared` slots. A row that is gone, whose version moved on, or (unversioned)
    /// whose written columns no longer hold their loaded values, is a stale write. Returns the
    /// version written, for a versioned model.
    ///
    /// `canonical` reads the row as the model's encoder writes it: when the compare-and-set matched
    /// nothing only because a column is stored in another form than Docket writes (a date written
    /// by another program, say), the row did not change, and the update runs by key alone. That
    /// is still atomic: the writer holds the write lock for the whole transaction.
    static func update(
        _ change: RowChange, slots: [Int], compared: [Int], statement: Statement, on db: Connection,
        value: (Int) -> DatabaseValue, canonical: (DatabaseValue) throws -> [String: DatabaseValue]? = { _ in nil }
    ) throws -> Int? {
        let expected = try bindUpdate(change, slots: slots, compared: compared, statement: statement, value: value)
        try execute(statement, change, db)
        if db.changes == 0 {
            let stale = try staleRow(change, compared: compared, expected: expected, on: db, canonical: canonical)
            guard stale == nil else { throw UnitOfWorkError.staleWrite(stale!) }
            // Nothing changed but the form a value is stored in: write by key alone.
            let byKey = try db.cachedStatement(updateSQL(change, slots: slots, compared: [], dialect: db.dialect))
            _ = try bindUpdate(change, slots: slots, compared: [], statement: byKey, value: value)
            try execute(byKey, change, db)
        }
        return expected.map { $0 + 1 }
    }

    /// Binds an UPDATE made by ``updateSQL(_:slots:compared:dialect:)``: the written values, the new
    /// version, the key, the expected version, then the snapshot value of each compared slot.
    /// Returns the expected version.
    private static func bindUpdate(
        _ change: RowChange, slots: [Int], compared: [Int], statement: Statement, value: (Int) -> DatabaseValue
    ) throws -> Int? {
        var index: Int32 = 1
        for slot in slots {
            try statement.bind(value(slot), at: index)
            index += 1
        }
        var expected: Int?
        if let versionSlot = change.versionSlot {
            expected = Int((change.snapshot?[versionSlot] ?? change.values[versionSlot]).integerValue ?? 0)
            try statement.bind(.integer(Int64(expected! + 1)), at: index)
            index += 1
        }
        try statement.bind(change.key, at: index)
        index += 1
        if let expected {
            try statement.bind(.integer(Int64(expected)), at: index)
            index += 1
        }
        if let snapshot = change.snapshot {
            for slot in compared {
                try statement.bind(snapshot[slot], at: index)
                index += 1
            }
        }
        return expected
    }

    /// Why an UPDATE or DELETE of `change` matched no row, read back from the row itself; `nil`
    /// when the compared columns differ only in the form they are stored in (see ``update``).
    static func staleRow(
        _ change: RowChange, compared: [Int], expected: Int?, on db: Connection,
        canonical: (DatabaseValue) throws -> [String: DatabaseValue]? = { _ in nil }
    ) throws -> StaleWrite? {
        let (table, key) = (change.table, change.key)
        let read = (change.versionSlot.map { [$0] } ?? []) + compared
        let sql = db.dialect.selectByKey(
            table, columns: read.map { change.columns[$0] }, key: change.columns[change.keySlot])
        guard let row = try db.fetchOne(sql, [key]) else {
            return StaleWrite(
                change: change.label, table: table, key: key, reason: .rowMissing,
                verb: change.kind == .delete ? "delete" : "update")
        }
        if let expected, let versionSlot = change.versionSlot {
            let found = row.values[0].integerValue.map { Int($0) }
            return StaleWrite(
                change: change.label, table: table, key: key, columns: [change.columns[versionSlot]],
                loaded: [.integer(Int64(expected))], current: [row.values[0]],
                reason: .versionMoved(expected: expected, found: found))
        }
        let snapshot = change.snapshot ?? []
        let current = Array(row.values.suffix(compared.count))
        // Which compared columns differ from the snapshot: as the model's encoder would write them,
        // when the model is known, else as stored.
        let encoded = try canonical(key)
        var differing: [Int] = []
        for (i, slot) in compared.enumerated() {
            let now = encoded?[change.columns[slot]] ?? current[i]
            if now != snapshot[slot] { differing.append(i) }
        }
        if differing.isEmpty {
            if encoded != nil { return nil }
            differing = Array(compared.indices)
        }
        return StaleWrite(
            change: change.label, table: table, key: key, columns: differing.map { change.columns[compared[$0]] },
            loaded: differing.map { snapshot[compared[$0]] }, current: differing.map { current[$0] },
            reason: .columnsChanged)
    }

    private static func bindValues(
        _ change: RowChange, plan: FlushPlan, result: FlushResult, to statement: Statement
    ) throws {
        for (slot, value) in change.values.enumerated() { try statement.bind(value, at: Int32(slot + 1)) }
        for link in change.links {
            try statement.bind(
                linkedValue(change, slot: link.slot, plan: plan, result: result), at: Int32(link.slot + 1))
        }
    }

    /// The value of a slot, with a linked foreign key replaced by its parent's key (or NULL until
    /// a post-update when the link was broken to order a cycle).
    @inline(__always)
    private static func linkedValue(
        _ change: RowChange, slot: Int, plan: FlushPlan, result: FlushResult
    ) -> DatabaseValue {
        guard !change.links.isEmpty, let link = change.links.first(where: { $0.slot == slot }) else {
            return change.values[slot]
        }
        if plan.postUpdatedSlots[change.index]?.contains(slot) == true { return .null }
        return result.key(link.parent).map(DatabaseValue.integer) ?? .null
    }

    private static func execute(_ statement: Statement, _ change: RowChange, _ db: Connection) throws {
        do {
            try statement.run()
        } catch let error as DatabaseError {
            throw explained(error, change: change, on: db)
        }
    }

    /// `Book #1 in books has author_id = 42, but authors has no such row`.
    private static func missingParent(_ subject: String, column: String, value: DatabaseValue, parent: String) -> String
    {
        "\(subject) has \(column) = \(value.sqlLiteral), but \(parent) has no such row"
    }

    /// Adds which queued change failed and, for a foreign key, which column points at which missing
    /// row (SQLite's own message names neither).
    static func explained(_ error: DatabaseError, change: RowChange, on db: Connection) -> DatabaseError {
        let values = change.values
        let context = "\(change.verb) \(change.label) into \(change.table)"
        guard error.extendedResultCode == SQLITE_CONSTRAINT_FOREIGNKEY else {
            return error.adding(context: context).attributed(to: change)
        }
        if change.kind == .delete {
            var still = DatabaseError(
                resultCode: SQLITE_CONSTRAINT, extendedResultCode: SQLITE_CONSTRAINT_FOREIGNKEY,
                message: "FOREIGN KEY constraint failed: \(change.label) in \(change.table) is still referenced by "
                    + "other rows; delete or move them in the same unit of work", sql: error.sql
            ).attributed(to: change)
            if let referencing = try? db.fetchAll(
                """
                SELECT m.name, p."from" FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS p
                WHERE m.type = 'table' AND p."table" = ? COLLATE NOCASE
                """, [change.table]), let first = referencing.first
            {
                still.referencedTable = first.values[0].textValue
                still.columns = first.values[1].textValue.map { [$0] } ?? []
            }
            return still
        }
        var details: [String] = []
        var faulty: (column: String, parent: String)?
        if let info = try? db.schemaCache.table(change.table, on: db) {
            for fk in info.foreignKeys where fk.columns.count == 1 {
                guard let slot = change.columns.firstIndex(of: fk.columns[0]), slot < values.count,
                    !values[slot].isNull
                else { continue }
                let parentColumn =
                    fk.parentColumns.first
                    ?? (try? db.schemaCache.table(fk.parentTable, on: db))?.columns.first { $0.primaryKeyIndex == 1 }?
                    .name
                    ?? "rowid"
                let exists = try? db.scalar(
                    "SELECT EXISTS (SELECT 1 FROM \(quoteIdentifier(fk.parentTable)) WHERE \(quoteIdentifier(parentColumn)) = ?)",
                    [values[slot]])
                if exists == .integer(0) {
                    faulty = faulty ?? (fk.columns[0], fk.parentTable)
                    details.append(
                        missingParent(
                            "\(change.label) in \(change.table)", column: fk.columns[0], value: values[slot],
                            parent: fk.parentTable))
                }
            }
        }
        guard !details.isEmpty else { return error.adding(context: context).attributed(to: change) }
        var explained = DatabaseError(
            resultCode: SQLITE_CONSTRAINT, extendedResultCode: SQLITE_CONSTRAINT_FOREIGNKEY,
            message: "FOREIGN KEY constraint failed: " + details.joined(separator: "; "), sql: error.sql,
            context: context
        ).attributed(to: change)
        explained.columns = faulty.map { [$0.column] } ?? []
        explained.referencedTable = faulty?.parent
        return explained
    }

    private static func deferredViolations(_ db: Connection) -> Int32 {
        var current: Int32 = 0
        var highwater: Int32 = 0
        sqlite3_db_status(db.handle, SQLITE_DBSTATUS_DEFERRED_FKS, &current, &highwater, 0)
        return current
    }

    /// Names the queued changes whose rows break a foreign key (`PRAGMA foreign_key_check`).
    private static func foreignKeyViolation(
        _ plan: FlushPlan, schema: [String: TableInfo], result: FlushResult, _ db: Connection
    ) -> DatabaseError {
        var details: [String] = []
        var first: (table: String, key: Int64?, column: String?, parent: String, change: RowChange?)?
        let tables = Set(plan.changes.map { $0.table }).sorted()
        for table in tables {
            guard
                let rows = try? db.fetchAll("SELECT rowid, \"parent\", fkid FROM pragma_foreign_key_check(?)", [table])
            else { continue }
            for row in rows.prefix(10) {
                let rowid = row.values[0].integerValue
                let parent = row.values[1].textValue ?? "?"
                let fk = row.values[2].integerValue.flatMap { id in
                    schema[table]?.foreignKeys.indices.contains(Int(id)) == true
                        ? schema[table]!.foreignKeys[Int(id)] : nil
                }
                let change = plan.changes.first { $0.table == table && rowid != nil && result.key($0.index) == rowid }
                let subject =
                    change.map { change in
                        change.key.isNull && rowid != nil
                            ? "\(change.model) #\(change.index + 1) (\(change.columns[change.keySlot]) \(rowid!)) in \(table)"
                            : "\(change.label) in \(table)"
                    } ?? "\(table) row \(rowid.map(String.init) ?? "?")"
                if first == nil { first = (table, rowid, fk?.columns.first, parent, change) }
                if let fk, let change, let slot = change.columns.firstIndex(of: fk.columns[0]) {
                    let value = linkedValue(change, slot: slot, plan: plan, result: result)
                    details.append(missingParent(subject, column: fk.columns[0], value: value, parent: parent))
                } else {
                    details.append(subject + " references a missing row of \(parent)")
                }
            }
        }
        var error = DatabaseError(
            resultCode: SQLITE_CONSTRAINT, extendedResultCode: SQLITE_CONSTRAINT_FOREIGNKEY,
            message: "FOREIGN KEY constraint failed: "
                + (details.isEmpty ? "a row references a missing parent" : details.joined(separator: "; ")))
        if let first {
            if let change = first.change { error = error.attributed(to: change) }
            error.table = first.table
            error.key = error.key ?? first.key.map(DatabaseValue.integer)
            error.columns = first.column.map { [$0] } ?? []
            error.referencedTable = first.parent
        }
        return error
    }

    private enum SQLShape: Hashable {
        case insert(String, [String])
        case update(String, [String], String, String?, [String])
        case delete(String, String, String?)
        case upsert(String, [String], [String], Bool)
    }

    @inline(__always)
    private static func cached(_ cache: inout [SQLShape: String], _ shape: SQLShape, _ make: () -> String) -> String {
        if let sql = cache[shape] { return sql }
        let sql = make()
        cache[shape] = sql
        return sql
    }
}
