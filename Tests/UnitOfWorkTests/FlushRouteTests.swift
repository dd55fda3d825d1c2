import Testing

@testable import Docket

/// The fast paths' table order is the planner's, not the executor's (issue 16's seam): a pure
/// function of the tables, tested here without a database.
@Suite struct FlushRouteTests {
    static func table(_ name: String, parents: [String]) -> TableInfo {
        TableInfo(
            name: name,
            columns: [
                .init(name: "id", declaredType: "INTEGER", notNull: false, hasDefault: false, primaryKeyIndex: 1)
            ],
            foreignKeys: parents.map { .init(parentTable: $0, columns: ["\($0)_id"], parentColumns: ["id"]) })
    }

    @Test func givenAChainOfTables_whenRanked_thenParentsComeFirstWhateverTheQueueOrder() {
        let schema = [
            "lines": Self.table("lines", parents: ["orders", "books"]),
            "orders": Self.table("orders", parents: ["customers"]),
            "customers": Self.table("customers", parents: []),
            "books": Self.table("books", parents: []),
        ]
        #expect(FlushPlanner.tableRanks(["lines", "orders", "customers", "books"], schema: schema) == [2, 1, 0, 0])
        // A parent that is not among the tables does not count.
        #expect(FlushPlanner.tableRanks(["lines", "orders"], schema: schema) == [1, 0])
    }

    @Test func givenASelfReferenceOrACycle_whenRanked_thenThereIsNoFastPathOrder() {
        let tree = ["nodes": Self.table("nodes", parents: ["nodes"])]
        #expect(FlushPlanner.tableRanks(["nodes"], schema: tree) == nil)
        let cycle = ["a": Self.table("a", parents: ["b"]), "b": Self.table("b", parents: ["a"])]
        #expect(FlushPlanner.tableRanks(["a", "b"], schema: cycle) == nil)
    }
}

/// A cycle between rows with known keys is broken by deferring a foreign key only where the backend
/// can defer it (every key on SQLite; `DEFERRABLE` keys on PostgreSQL), else by a post-update.
@Suite struct DeferrableCycleTests {
    /// `people.partner_id` → `people.id`, nullable; two people queued as each other's partner.
    static func plan(deferrable: Bool) throws -> FlushPlan {
        let people = TableInfo(
            name: "people",
            columns: [
                .init(name: "id", declaredType: "INTEGER", notNull: false, hasDefault: false, primaryKeyIndex: 1),
                .init(
                    name: "partner_id", declaredType: "INTEGER", notNull: false, hasDefault: false, primaryKeyIndex: 0),
            ],
            foreignKeys: [
                .init(parentTable: "people", columns: ["partner_id"], parentColumns: ["id"], isDeferrable: deferrable)
            ])
        let changes = [
            RowChange(
                index: 0, kind: .insert, table: "people", model: "Person", columns: ["id", "partner_id"],
                values: [.integer(1), .integer(2)], snapshot: nil, keySlot: 0, generatesKey: false, links: [],
                versionSlot: nil),
            RowChange(
                index: 1, kind: .insert, table: "people", model: "Person", columns: ["id", "partner_id"],
                values: [.integer(2), .integer(1)], snapshot: nil, keySlot: 0, generatesKey: false, links: [],
                versionSlot: nil),
        ]
        return try FlushPlanner.plan(changes, schema: ["people": people])
    }

    @Test func givenADeferrableKey_whenTwoRowsReferenceEachOther_thenTheKeyIsDeferred() throws {
        let plan = try Self.plan(deferrable: true)
        #expect(plan.defersForeignKeys)
        #expect(!plan.steps.contains { if case .postUpdate = $0 { true } else { false } })
    }

    @Test func givenAKeyThatCannotBeDeferred_whenTwoRowsReferenceEachOther_thenOneIsPostUpdated() throws {
        let plan = try Self.plan(deferrable: false)
        #expect(!plan.defersForeignKeys)
        let postUpdates = plan.steps.filter { if case .postUpdate = $0 { true } else { false } }
        #expect(postUpdates.count == 1)
        // The post-updated row is inserted with NULL first, then points at its partner.
        if case .postUpdate(let table, let column, let row, let parent) = postUpdates.first {
            #expect((table, column) == ("people", "partner_id"))
            #expect(Set([row, parent]) == [0, 1])
            #expect(plan.postUpdatedSlots[row] == [1])
        }
    }
}
