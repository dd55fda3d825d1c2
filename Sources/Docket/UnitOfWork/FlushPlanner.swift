import Foundation

/// Orders a unit of work's changes into a ``FlushPlan``. A pure function of the changes and the
/// tables' metadata: it never touches a database.
///
/// The rules (see `Docs/UnitOfWork.md`):
/// - every change is a node; an edge `a → b` means `a` must run before `b`;
/// - **hard** edges: a row whose foreign key is the generated key of a queued insert waits for it;
/// - **soft** edges, from foreign-key values: a row referencing a queued insert by a known key
///   waits for it; a row deleted waits for the deletes of rows that reference it; an update moving
///   a row away from a parent runs before that parent's delete (so an ON DELETE CASCADE cannot
///   take it along);
/// - among the rows that are free to run, deletes go first (children before parents), then inserts
///   (parents before children), then updates; ties keep queue order, which also keeps rows of one
///   statement shape together so they share one cached statement;
/// - a cycle is broken by dropping a soft edge (foreign keys are deferred during the flush, so the
///   database checks them at the end), else by inserting a nullable generated-key column as NULL
///   and setting it afterwards (post-update); a cycle of NOT NULL generated keys is an error that
///   names its rows, raised before any SQL runs.
public enum FlushPlanner {
    /// Plans `changes` (whose `index` must equal their position) against the tables in `schema`.
    public static func plan(_ changes: [RowChange], schema: [String: TableInfo]) throws -> FlushPlan {
        var graph = Graph(count: changes.count)
        let tableRank = rankTables(changes: changes, schema: schema)

        // Drop updates with no net change: no SQL at all.
        var active = [Bool](repeating: true, count: changes.count)
        var updatedSlots: [Int: [Int]] = [:]
        for change in changes where change.kind == .update {
            let changed = changedSlots(change)
            if changed.isEmpty {
                active[change.index] = false
            } else {
                updatedSlots[change.index] = changed
            }
        }

        // Rows by (table, key), to turn foreign-key values into row edges.
        var inserted: [TableKey: Int] = [:]
        var deleted: [TableKey: Int] = [:]
        for change in changes where active[change.index] && !change.key.isNull {
            switch change.kind {
            case .insert, .upsert: inserted[TableKey(table: change.table, key: change.key)] = change.index
            case .delete: deleted[TableKey(table: change.table, key: change.key)] = change.index
            case .update: break
            }
        }
        let hasRowEdges = !inserted.isEmpty || !deleted.isEmpty

        for change in changes where active[change.index] {
            for link in change.links { graph.add(from: link.parent, to: change.index, hard: true, slot: link.slot) }
            guard hasRowEdges, let info = schema[change.table] else { continue }
            for fk in info.foreignKeys where fk.columns.count == 1 {
                guard let slot = change.columns.firstIndex(of: fk.columns[0]),
                    referencesPrimaryKey(fk, schema: schema)
                else { continue }
                let value = change.values[slot]
                switch change.kind {
                case .insert, .upsert, .update:
                    if !value.isNull, !change.links.contains(where: { $0.slot == slot }),
                        let parent = inserted[TableKey(table: fk.parentTable, key: value)], parent != change.index
                    {
                        graph.add(from: parent, to: change.index, hard: false, slot: slot)
                    }
                    if change.kind == .update, let old = change.snapshot?[slot], old != value, !old.isNull,
                        let parent = deleted[TableKey(table: fk.parentTable, key: old)]
                    {
                        graph.add(from: change.index, to: parent, hard: false, slot: slot, holder: change.index)
                    }
                case .delete:
                    if !value.isNull, let parent = deleted[TableKey(table: fk.parentTable, key: value)],
                        parent != change.index
                    {
                        graph.add(from: change.index, to: parent, hard: false, slot: slot, holder: change.index)
                    }
                }
            }
        }

        // Unique values that change hands: a row taking a value of a unique index waits for the row
        // that gives it up (a delete, or an update moving away from it). SQLite checks UNIQUE at
        // every statement and cannot defer it, so a swap (A takes B's email, B takes A's) is a
        // cycle of such edges, broken below by moving one row out of the way first.
        addUniqueEdges(changes, active: active, schema: schema, to: &graph)

        // Kahn's algorithm, taking the ready change with the smallest (kind, table order, queue index).
        func priority(_ i: Int) -> Priority {
            let change = changes[i]
            let rank = tableRank[change.table] ?? 0
            switch change.kind {
            case .delete: return Priority(kind: 0, table: -rank, index: i)
            case .insert, .upsert: return Priority(kind: 1, table: rank, index: i)
            case .update: return Priority(kind: 2, table: rank, index: i)
            }
        }
        var heap = Heap<Priority>()
        var remaining = 0
        for i in changes.indices where active[i] {
            remaining += 1
            if graph.indegree[i] == 0 { heap.push(priority(i)) }
        }
        var order: [Int] = []
        order.reserveCapacity(remaining)
        var postUpdated: [Int: Set<Int>] = [:]
        var defers = false
        var postUpdates: [FlushPlan.Step] = []
        // Unique values moved out of the way, by the position in `order` they run before.
        var releases: [Int: [FlushPlan.Step]] = [:]
        var releasedSlots: [Int: Set<Int>] = [:]
        var done = [Bool](repeating: false, count: changes.count)
        while order.count < remaining {
            if let next = heap.pop() {
                let i = next.index
                done[i] = true
                order.append(i)
                for edge in graph.outgoing[i] where !edge.removed {
                    graph.indegree[edge.to] -= 1
                    if graph.indegree[edge.to] == 0 { heap.push(priority(edge.to)) }
                }
                continue
            }
            // Every remaining change waits on another: find a cycle and break one of its edges.
            let cycle = graph.findCycle(among: { active[$0] && !done[$0] })
            if let soft = cycle.first(where: { isDeferrable(graph.edges[$0], changes, schema) }) {
                graph.remove(soft)
                defers = true
            } else if let unique = cycle.first(where: { graph.edges[$0].unique }) {
                let edge = graph.edges[unique]
                let holder = changes[edge.from]
                // A unique edge exists only for a table whose unique indexes the schema lists.
                let info = schema[holder.table] ?? TableInfo(name: holder.table, columns: [], foreignKeys: [])
                let index =
                    info.uniqueIndexes.indices.contains(edge.slot)
                    ? info.uniqueIndexes[edge.slot] : TableInfo.UniqueIndex(name: "?", columns: [])
                guard let release = releaseValue(holder, index: index, table: info),
                    releasedSlots[edge.from]?.contains(release.slot) != true
                else {
                    let rows = cycle.map { changes[graph.edges[$0].from].label }
                    throw FlushError.uniqueExchange(
                        rows: rows, table: holder.table, index: index.name, columns: index.columns,
                        reason: unsafeReason(index: index, table: info))
                }
                releases[order.count, default: []].append(
                    .releaseUnique(
                        table: holder.table, column: holder.columns[release.slot], row: edge.from, value: release.value)
                )
                releasedSlots[edge.from, default: []].insert(release.slot)
                // The row's own update writes the set-aside column's final value, changed or not.
                if var written = updatedSlots[edge.from], !written.contains(release.slot) {
                    written.append(release.slot)
                    updatedSlots[edge.from] = written.sorted()
                }
                // Out of the way: it no longer holds a value of that index (other indexes still wait).
                for id in graph.edges.indices
                where graph.edges[id].unique && graph.edges[id].from == edge.from && graph.edges[id].slot == edge.slot
                    && !graph.edges[id].removed
                {
                    graph.remove(id)
                }
            } else if let breakable = cycle.first(where: { isNullable(graph.edges[$0], changes, schema) }) {
                let edge = graph.edges[breakable]
                graph.remove(breakable)
                postUpdated[edge.to, default: []].insert(edge.slot)
                let child = changes[edge.to]
                postUpdates.append(
                    .postUpdate(table: child.table, column: child.columns[edge.slot], row: edge.to, parent: edge.from))
            } else {
                throw FlushError.unbreakableCycle(
                    cycle.map { graph.edges[$0] }.map { edge in
                        let child = changes[edge.to]
                        return
                            "\(child.label) \(child.table).\(child.columns[edge.slot]) ← key of \(changes[edge.from].label)"
                    })
            }
            for i in changes.indices where active[i] && !done[i] && graph.indegree[i] == 0 && !heap.contains(index: i) {
                heap.push(priority(i))
            }
        }

        var plan = FlushPlan(
            changes: changes, steps: batch(order, changes, updatedSlots, releases: releases) + postUpdates,
            postUpdatedSlots: postUpdated)
        plan.defersForeignKeys = defers
        plan.releasedSlots = releasedSlots
        return plan
    }

    /// The values of `index`'s columns in `row` (`values` or `snapshot`), or `nil` when one of them
    /// is NULL (NULLs never collide in a unique index), a column is missing, or a column is a link
    /// (its value is not known yet).
    private static func tuple(_ change: RowChange, _ row: [DatabaseValue]?, _ index: TableInfo.UniqueIndex)
        -> [DatabaseValue]?
    {
        guard let row else { return nil }
        var values: [DatabaseValue] = []
        for column in index.columns {
            guard let slot = change.columns.firstIndex(of: column), slot < row.count, !row[slot].isNull,
                !change.links.contains(where: { $0.slot == slot })
            else { return nil }
            values.append(row[slot])
        }
        return values
    }

    private static func addUniqueEdges(
        _ changes: [RowChange], active: [Bool], schema: [String: TableInfo], to graph: inout Graph
    ) {
        var tables: [String] = []
        for change in changes where active[change.index] && !tables.contains(change.table) {
            // Only a delete or an update gives a value up: without one, there is nothing to order.
            if change.kind == .update || change.kind == .delete { tables.append(change.table) }
        }
        for table in tables {
            guard let info = schema[table], !info.uniqueIndexes.isEmpty else { continue }
            let rows = changes.filter { active[$0.index] && $0.table == table }
            for (number, index) in info.uniqueIndexes.enumerated() {
                // Each value given up, and by which change.
                var vacated: [[DatabaseValue]: Int] = [:]
                for change in rows {
                    switch change.kind {
                    case .delete:
                        if let old = tuple(change, change.values, index) { vacated[old] = change.index }
                    case .update:
                        if let old = tuple(change, change.snapshot, index), old != tuple(change, change.values, index) {
                            vacated[old] = change.index
                        }
                    default: break
                    }
                }
                guard !vacated.isEmpty else { continue }
                for change in rows where change.kind != .delete {
                    guard let new = tuple(change, change.values, index) else { continue }
                    if change.kind == .update, change.snapshot.flatMap({ tuple(change, $0, index) }) == new { continue }
                    if let holder = vacated[new], holder != change.index {
                        graph.add(from: holder, to: change.index, hard: false, slot: number, unique: true)
                    }
                }
            }
        }
    }

    /// Which column of `index` an update can set aside, and to what, so that `change` no longer
    /// holds its value: a temporary value no constraint of the table can reject. `nil` when none is
    /// safe: the table has triggers, a foreign key references the index, or every column is NOT NULL
    /// of a type without a safe temporary value, or read by a CHECK constraint.
    private static func releaseValue(_ change: RowChange, index: TableInfo.UniqueIndex, table: TableInfo)
        -> (slot: Int, value: FlushPlan.ReleaseValue)?
    {
        guard change.kind == .update, !table.hasTriggers,
            index.columns.allSatisfy({ !table.referencedColumns.contains($0) })
        else { return nil }
        let changed = Set(changedSlots(change))
        // A column the update changes first: its final value is written anyway.
        let candidates = index.columns.compactMap { name -> (name: String, slot: Int)? in
            change.columns.firstIndex(of: name).map { (name, $0) }
        }.sorted { changed.contains($0.slot) && !changed.contains($1.slot) }
        let foreignKeyColumns = Set(table.foreignKeys.flatMap(\.columns))
        var best: (slot: Int, value: FlushPlan.ReleaseValue)?
        for (name, slot) in candidates {
            guard let column = table.column(named: name), !table.checkMentions(name) else { continue }
            if !column.notNull { return (slot, .null) }
            // A temporary value in a foreign-key column would reference no row.
            guard best == nil, !foreignKeyColumns.contains(name) else { continue }
            let type = column.declaredType.uppercased()
            if type.contains("CHAR") || type.contains("CLOB") || type.contains("TEXT") {
                best = (slot, .text("docket-release-" + UUID().uuidString))
            } else if type.contains("INT") {
                best = (slot, .integerBelowMinimum)
            }
        }
        return best
    }

    private static func unsafeReason(index: TableInfo.UniqueIndex, table: TableInfo) -> String {
        if table.hasTriggers { return "\(table.name) has triggers, which a temporary value would fire" }
        if let referenced = index.columns.first(where: { table.referencedColumns.contains($0) }) {
            return "a foreign key references \(table.name).\(referenced)"
        }
        return "every column of the index is NOT NULL and either read by a CHECK constraint, a foreign key, or "
            + "of a type without a safe temporary value"
    }

    /// Slots whose value differs from the snapshot, excluding the key and the version. Without a
    /// snapshot (a model not loaded in this unit of work), every column but the key is written.
    /// The slots an update writes: every column but the key and the version that differs from the
    /// row as loaded (every one, for a row not loaded through the unit of work).
    static func changedSlots(_ change: RowChange) -> [Int] {
        change.columns.indices.filter { slot in
            guard slot != change.keySlot, slot != change.versionSlot else { return false }
            // A linked foreign key takes a key generated in this commit.
            guard let snapshot = change.snapshot, !change.links.contains(where: { $0.slot == slot }) else {
                return true
            }
            return (slot < snapshot.count ? snapshot[slot] : .null) != change.values[slot]
        }
    }

    /// Groups consecutive rows of one statement shape into one step.
    ///
    /// The rows of the open insert or delete group are gathered in a local array and stored into
    /// the step once the group closes: appending to an array bound out of `steps.last` would copy
    /// the whole group on every row (copy-on-write), O(n²) for a commit of n rows of one shape.
    private static func batch(
        _ order: [Int], _ changes: [RowChange], _ updated: [Int: [Int]], releases: [Int: [FlushPlan.Step]]
    ) -> [FlushPlan.Step] {
        var steps: [FlushPlan.Step] = []
        var group: (kind: RowChange.Kind, table: String, columns: [String], rows: [Int])?
        func closeGroup() {
            guard let open = group else { return }
            group = nil
            if open.kind == .insert {
                steps.append(.insert(table: open.table, columns: open.columns, rows: open.rows))
            } else {
                steps.append(.delete(table: open.table, rows: open.rows))
            }
        }
        for (position, i) in order.enumerated() {
            if let released = releases[position] {
                closeGroup()
                steps += released
            }
            let change = changes[i]
            switch change.kind {
            case .insert:
                if group?.kind == .insert, group?.table == change.table, group?.columns == change.columns {
                    group!.rows.append(i)
                } else {
                    closeGroup()
                    group = (.insert, change.table, change.columns, [i])
                }
            case .delete:
                if group?.kind == .delete, group?.table == change.table {
                    group!.rows.append(i)
                } else {
                    closeGroup()
                    group = (.delete, change.table, [], [i])
                }
            case .update:
                closeGroup()
                let slots = updated[i] ?? []
                steps.append(
                    .update(table: change.table, columns: slots.map { change.columns[$0] }, slots: slots, row: i))
            case .upsert:
                closeGroup()
                steps.append(.upsert(table: change.table, columns: change.columns, row: i))
            }
        }
        closeGroup()
        return steps
    }

    /// Orders the tables of the changes by their foreign keys: parents get lower ranks. Tables in a
    /// cycle get consecutive ranks in order of first appearance in the queue.
    static func rankTables(changes: [RowChange], schema: [String: TableInfo]) -> [String: Int] {
        var tables: [String] = []
        var seen: Set<String> = []
        for change in changes where seen.insert(change.table).inserted { tables.append(change.table) }
        var parents: [String: Set<String>] = [:]
        for table in tables {
            for fk in schema[table]?.foreignKeys ?? [] where fk.parentTable != table && seen.contains(fk.parentTable) {
                parents[table, default: []].insert(fk.parentTable)
            }
        }
        var rank: [String: Int] = [:]
        while rank.count < tables.count {
            let ready = tables.filter { rank[$0] == nil && (parents[$0] ?? []).allSatisfy { rank[$0] != nil } }
            // In a cycle nothing is ready: take the first-queued remaining table.
            let chosen = ready.isEmpty ? [tables.first { rank[$0] == nil }!] : ready
            for table in chosen { rank[table] = rank.count }
        }
        return rank
    }

    private static func referencesPrimaryKey(_ fk: TableInfo.ForeignKey, schema: [String: TableInfo]) -> Bool {
        guard let parent = schema[fk.parentTable] else { return fk.parentColumns.isEmpty }
        let pk = parent.columns.filter { $0.primaryKeyIndex > 0 }.map(\.name)
        return fk.parentColumns.isEmpty || fk.parentColumns == pk
    }

    /// A soft foreign-key edge whose key the backend can check at the end of the flush.
    private static func isDeferrable(_ edge: Graph.Edge, _ changes: [RowChange], _ schema: [String: TableInfo])
        -> Bool
    {
        guard !edge.hard, !edge.unique else { return false }
        let holder = changes[edge.holder]
        let column = holder.columns[edge.slot]
        return schema[holder.table]?.foreignKeys.first { $0.columns == [column] }?.isDeferrable ?? true
    }

    private static func isNullable(_ edge: Graph.Edge, _ changes: [RowChange], _ schema: [String: TableInfo]) -> Bool {
        let child = changes[edge.to]
        if case .delete = child.kind { return false }
        if case .update = child.kind { return false }
        guard let column = schema[child.table]?.column(named: child.columns[edge.slot])
        else { return false }
        return !column.notNull
    }
}

/// Why a flush could not be planned.
public enum FlushError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Rows that each wait for another's generated key, through NOT NULL columns only.
    case unbreakableCycle([String])
    /// Rows that exchange values of a unique index (A takes B's, B takes A's, or a longer chain
    /// that closes), where no temporary value is safe to move one of them out of the way first.
    case uniqueExchange(rows: [String], table: String, index: String, columns: [String], reason: String)

    public var description: String {
        switch self {
        case .uniqueExchange(let rows, let table, let index, let columns, let reason):
            return "cannot order the flush: \(rows.joined(separator: ", ")) exchange values of the unique index "
                + "\(index) on \(table) (\(columns.joined(separator: ", "))), and no temporary value is safe to move "
                + "one of them out of the way: \(reason). Commit the exchange in two steps; nothing was written."

        case .unbreakableCycle(let links):
            return "cannot order the flush: these rows wait for each other's generated keys through NOT NULL "
                + "foreign keys: " + links.joined(separator: "; ")
                + ". Make one of these columns nullable (it is then set after both rows exist), "
                + "or give the rows client-supplied keys (e.g. UUID); nothing was written."
        }
    }
}

private struct TableKey: Hashable {
    let table: String
    let key: DatabaseValue
}

private struct Priority: Comparable {
    let kind: Int
    let table: Int
    let index: Int
    static func < (a: Priority, b: Priority) -> Bool {
        (a.kind, a.table, a.index) < (b.kind, b.table, b.index)
    }
}

/// The dependency graph between changes.
private struct Graph {
    struct Edge {
        let from: Int
        let to: Int
        let hard: Bool
        /// A unique value changing hands; `slot` is then the index's number in the table's
        /// `uniqueIndexes`.
        var unique = false
        let slot: Int
        /// The change whose column `slot` is: the child of a foreign-key edge (`to` for a parent's
        /// insert, `from` for a delete or an update moving away from a parent).
        let holder: Int
        var removed = false
    }
    var edges: [Edge] = []
    var outgoing: [[Edge]]
    var incoming: [[Int]]
    var indegree: [Int]

    init(count: Int) {
        outgoing = Array(repeating: [], count: count)
        incoming = Array(repeating: [], count: count)
        indegree = Array(repeating: 0, count: count)
    }

    mutating func add(from: Int, to: Int, hard: Bool, slot: Int, unique: Bool = false, holder: Int? = nil) {
        let edge = Edge(from: from, to: to, hard: hard, unique: unique, slot: slot, holder: holder ?? to)
        incoming[to].append(edges.count)
        edges.append(edge)
        outgoing[from].append(edge)
        indegree[to] += 1
    }

    mutating func remove(_ id: Int) {
        edges[id].removed = true
        let edge = edges[id]
        indegree[edge.to] -= 1
        if let k = outgoing[edge.from].firstIndex(where: {
            $0.to == edge.to && $0.slot == edge.slot && $0.hard == edge.hard && $0.unique == edge.unique && !$0.removed
        }) {
            outgoing[edge.from][k].removed = true
        }
    }

    /// Walks incoming edges from a waiting change until a change repeats: those edges form a cycle.
    /// Returns edge ids.
    func findCycle(among waiting: (Int) -> Bool) -> [Int] {
        guard var node = indegree.indices.first(where: { waiting($0) && indegree[$0] > 0 }) else { return [] }
        var path: [Int] = []
        var position: [Int: Int] = [:]
        while position[node] == nil {
            position[node] = path.count
            let edge = incoming[node].first { !edges[$0].removed && waiting(edges[$0].from) }!
            path.append(edge)
            node = edges[edge].from
        }
        return Array(path[position[node]!...])
    }
}

/// A binary min-heap (the planner's only data structure beyond arrays and dictionaries).
struct Heap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

extension Heap where Element == Priority {
    fileprivate func contains(index: Int) -> Bool { items.contains { $0.index == index } }
}
