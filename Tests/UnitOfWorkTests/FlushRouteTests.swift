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
