import Foundation
import Synchronization

/// What the shoppers did, counted as they go.
struct Tally: Sendable {
    var finished = 0
    var committed = 0
    var outOfStock = 0
    var gaveUp = 0
    var conflicts = 0
    var commitLatencies: [Duration] = []
    /// Every acknowledged order: its key and lines. The invariants look for each in the database.
    var acknowledged: [Int64: [OrderRequest.Line]] = [:]
}

/// The tally, shared by every shopper task and the progress display.
final class Ledger: Sendable {
    private let tally = Mutex(Tally())

    func record(_ outcome: Outcome) {
        tally.withLock { tally in
            tally.finished += 1
            switch outcome {
            case .placed(let orderID, let lines, let conflicts, let latency):
                tally.committed += 1
                tally.conflicts += conflicts
                tally.commitLatencies.append(latency)
                tally.acknowledged[orderID] = lines
            case .outOfStock(let conflicts):
                tally.outOfStock += 1
                tally.conflicts += conflicts
            case .gaveUp(let conflicts):
                tally.gaveUp += 1
                tally.conflicts += conflicts
            }
        }
    }

    /// The counters only, cheap enough to read several times a second.
    var counts: (finished: Int, committed: Int, conflicts: Int) {
        tally.withLock { ($0.finished, $0.committed, $0.conflicts) }
    }

    var snapshot: Tally { tally.withLock { $0 } }
}

/// The report printed after the run.
func report(_ tally: Tally, requested: Int, elapsed: Duration) -> [String] {
    let seconds = max(elapsed.seconds, 1e-9)
    let latencies = tally.commitLatencies.sorted()
    return [
        "Report",
        "  orders committed:    \(tally.committed) of \(requested) "
            + "(\(tally.outOfStock) out of stock, \(tally.gaveUp) given up)",
        "  conflicts retried:   \(tally.conflicts)",
        "  commits per second:  \(String(format: "%.1f", Double(tally.committed) / seconds))",
        "  commit latency p50:  \(milliseconds(percentile(0.50, of: latencies)))",
        "  commit latency p99:  \(milliseconds(percentile(0.99, of: latencies)))",
    ]
}

/// The nearest-rank percentile of sorted values; zero when there are none.
func percentile(_ p: Double, of sorted: [Duration]) -> Duration {
    guard !sorted.isEmpty else { return .zero }
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

func milliseconds(_ duration: Duration) -> String {
    String(format: "%.2f ms", duration.seconds * 1000)
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
