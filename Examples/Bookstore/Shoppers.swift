import Docket

/// Runs `tasks` concurrent shoppers; each places `orders` random orders, one after another, each
/// through its own unit of work (see ``Shop/place(_:)``), and records how each one ended.
func runShoppers(
    tasks: Int, orders: Int, shop: Shop, catalog: Catalog, seed: UInt64, ledger: Ledger
) async throws {
    // One generator per task, seeded from one generator, so a given --seed asks for the same orders
    // every run (which of them commit first still depends on the scheduling).
    var seeds = SplitMix64(seed: seed)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<tasks {
            var random = SplitMix64(seed: seeds.next())
            group.addTask {
                for _ in 0..<orders {
                    let outcome = try await shop.place(catalog.randomRequest(using: &random))
                    ledger.record(outcome)
                }
            }
        }
        try await group.waitForAll()
    }
}

extension Catalog {
    /// One to three different books, one to three copies each, for a random customer.
    func randomRequest(using random: inout some RandomNumberGenerator) -> OrderRequest {
        let count = Int.random(in: 1...min(3, books.count), using: &random)
        var picked: [Int64] = []
        while picked.count < count {
            let id = books.randomElement(using: &random)!.id
            if !picked.contains(id) { picked.append(id) }
        }
        return OrderRequest(
            customerID: customerIDs.randomElement(using: &random)!,
            lines: picked.map { OrderRequest.Line(bookID: $0, quantity: Int.random(in: 1...3, using: &random)) })
    }
}

/// A small, fast, seedable random number generator (https://prng.di.unimi.it/splitmix64.c).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
