/// What the planner may ask a backend while it chooses how a commit is written: table metadata,
/// the writer's column layouts and a memo of table orders. Never SQL, never a statement: the
/// planner stays a function of the changes and the schema, whichever backend runs the result.
protocol PlannerCatalog {
    /// The tables named, and the tables their foreign keys reference (those that exist).
    func tablesWithParents(_ names: [String]) throws -> [String: TableInfo]
    /// One table's metadata.
    func table(_ name: String) throws -> TableInfo
    /// Insert ranks already worked out, valid until the schema changes.
    var insertRankMemo: InsertRankMemo { get }
    /// The column of each slot in the writer's encoding of `M`.
    func columns<M: Model>(of model: M.Type) -> [String]
}

/// ``FlushPlanner/insertRanks(_:catalog:)`` of each combination of model types committed so far,
/// by their `ObjectIdentifier`s in batch order: small commits of one shape share one answer. Owned
/// by a connection's schema cache, and emptied whenever the schema changes.
final class InsertRankMemo {
    var ranks: [[ObjectIdentifier]: [Int]?] = [:]
    /// The entry used last: commits of one shape follow each other.
    var last: (types: [ObjectIdentifier], ranks: [Int]?)?

    func removeAll() {
        ranks.removeAll()
        last = nil
    }
}

/// How a unit of work's queued batches are written, as ``FlushPlanner/route(_:count:catalog:)``
/// decides. The executor follows it and decides nothing about order.
enum FlushRoute {
    /// Updates of one model type: row order is the plan. Each row writes the columns it changed.
    case updates(any FlushBatch)
    /// Inserts only, in an order the tables alone settle: the batches in that order, each one's
    /// rows in queue order, each batch one cached statement bound straight from the models.
    case inserts([any FlushBatch])
    /// Everything else: the general plan, and the tables it was made against.
    case planned(FlushPlan, schema: [String: TableInfo])
}

extension FlushPlanner {
    /// Chooses how `batches` (holding `count` changes) are written: a fast path when the tables
    /// alone settle the order, the general plan otherwise.
    static func route(_ batches: [any FlushBatch], count: Int, catalog: some PlannerCatalog) throws -> FlushRoute {
        // Two updates that both write a unique index's column may exchange values: only the general
        // plan orders those.
        if batches.count == 1, batches[0].updatesOnly, try !batches[0].mayExchangeUniqueValues(catalog: catalog) {
            return .updates(batches[0])
        }
        if let ordered = try insertOrder(batches, count: count, catalog: catalog) { return .inserts(ordered) }
        let schema = try catalog.tablesWithParents(batches.map { $0.table })
        let changes = try batches.flatMap { try $0.rowChanges() }.sorted { $0.index < $1.index }
        return .planned(try plan(changes, schema: schema), schema: schema)
    }

    /// The batches in insertion order when the tables alone settle it — every change an insert, no
    /// table referencing itself, no cycle between tables, every linked parent in an earlier table —
    /// or `nil` when the general planner is needed.
    static func insertOrder(
        _ batches: [any FlushBatch], count: Int, catalog: some PlannerCatalog
    ) throws -> [any FlushBatch]? {
        guard batches.allSatisfy({ $0.insertsOnly }), let ranks = try insertRanks(batches, catalog: catalog) else {
            return nil
        }
        if batches.contains(where: { $0.hasLinks }) {
            // Every linked parent must be written by a batch of a lower rank (an earlier table). A
            // small commit's table fits on the stack.
            let linksPrecede = withUnsafeTemporaryAllocation(of: Int32.self, capacity: count) { rankOfIndex in
                rankOfIndex.initialize(repeating: -1)
                for (batch, rank) in zip(batches, ranks) { batch.mark(rank: Int32(rank), in: rankOfIndex) }
                return zip(batches, ranks).allSatisfy { batch, rank in
                    !batch.hasLinks || batch.parentsRanked(below: Int32(rank), in: UnsafeBufferPointer(rankOfIndex))
                }
            }
            guard linksPrecede else { return nil }
        }
        // Parents' queues are usually made first: the batches are then in order already.
        if zip(ranks, ranks.dropFirst()).allSatisfy({ $0 < $1 }) { return batches }
        // By rank, then by queue order: an insertion sort, as a commit has a handful of batches.
        let first = batches.map { $0.firstChangeIndex }
        var order = Array(batches.indices)
        for i in 1..<order.count {
            var j = i
            let b = order[i]
            while j > 0, (ranks[order[j - 1]], first[order[j - 1]]) > (ranks[b], first[b]) {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = b
        }
        return order.map { batches[$0] }
    }

    /// Each batch's rank in insert order: 0 for a table none of the others references, then one
    /// more than the highest of its parents among them; `nil` when a table references itself or the
    /// tables reference each other in a cycle. The tables alone decide it, so it is memoized per
    /// combination of model types until the schema changes (``InsertRankMemo``).
    static func insertRanks(_ batches: [any FlushBatch], catalog: some PlannerCatalog) throws -> [Int]? {
        let memo = catalog.insertRankMemo
        // Commits of one shape follow each other: the last answer is checked first, with no array
        // to build and no hashing.
        if let last = memo.last, last.types.count == batches.count,
            zip(last.types, batches).allSatisfy({ $0 == $1.modelTypeID })
        {
            return last.ranks
        }
        let types = batches.map { $0.modelTypeID }
        let ranks: [Int]?
        if let known = memo.ranks[types] {
            ranks = known
        } else {
            // A commit touches a handful of tables: arrays and linear scans beat sets and dictionaries.
            var tables: [String] = []
            for batch in batches where !tables.contains(batch.table) { tables.append(batch.table) }
            let schema = try catalog.tablesWithParents(tables)
            ranks = tableRanks(tables, schema: schema).map { rank in
                batches.map { batch in rank[tables.firstIndex(of: batch.table)!] }
            }
            // Bounded: an application with many model types could otherwise grow it per combination.
            if memo.ranks.count >= 1024 { memo.ranks.removeAll() }
            memo.ranks[types] = .some(ranks)
        }
        memo.last = (types, ranks)
        return ranks
    }

    /// Ranks of `tables` by their foreign keys among each other, or `nil` for a self-reference or a
    /// cycle between tables.
    static func tableRanks(_ tables: [String], schema: [String: TableInfo]) -> [Int]? {
        var parents: [[Int]] = Array(repeating: [], count: tables.count)
        for (t, table) in tables.enumerated() {
            for fk in schema[table]?.foreignKeys ?? [] {
                guard let p = tables.firstIndex(of: fk.parentTable) else { continue }
                if p == t { return nil }  // a table that references itself
                if !parents[t].contains(p) { parents[t].append(p) }
            }
        }
        var rank = [Int](repeating: -1, count: tables.count)
        var ranked = 0
        var level = 0
        while ranked < tables.count {
            let ready = tables.indices.filter { t in
                rank[t] < 0 && parents[t].allSatisfy { rank[$0] >= 0 && rank[$0] < level }
            }
            if ready.isEmpty { return nil }  // a cycle between tables
            for t in ready { rank[t] = level }
            ranked += ready.count
            level += 1
        }
        return rank
    }
}

/// A SQLite connection as the planner's catalog: its schema cache, whose version the caller has
/// just checked (``SchemaCache/checkVersion(on:)``).
struct ConnectionCatalog: PlannerCatalog {
    let db: Connection

    func tablesWithParents(_ names: [String]) throws -> [String: TableInfo] {
        try db.schemaCache.tablesWithParents(checked: names, on: db)
    }
    func table(_ name: String) throws -> TableInfo { try db.schemaCache.table(name, on: db) }
    var insertRankMemo: InsertRankMemo { db.schemaCache.insertRankMemo }
    func columns<M: Model>(of model: M.Type) -> [String] { ModelEncoder<M>.reused(on: db).columns }
}
