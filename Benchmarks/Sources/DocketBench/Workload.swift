import Foundation

/// The workloads of issue 6. Sizes are fixed so that figures compare across runs and machines.
enum Workload: String, CaseIterable, Sendable {
    /// Bulk insert: 10k authors, then 100k books linked to them, in one commit.
    case w1 = "W1"
    /// Fetch and decode 100k books into Codable structs.
    case w2 = "W2"
    /// Load 100k books, change 10% of them, commit.
    case w3 = "W3"
    /// 64 tasks × 50 small commits (1 author + 2 books each).
    case w4 = "W4"
    /// 64 tasks × 500 read-modify-write increments of one counter.
    case w5 = "W5"
    /// Queue and commit 1M rows (peak memory).
    case w6 = "W6"
    /// W4's load from 1, 2 or 4 processes at once on one file (issue 15).
    case mp = "MP"
    /// Micro-benchmark: 100k book inserts, one row per statement vs multi-row VALUES (raw SQLite).
    case m1 = "M1"
    /// An empty child process: the baseline of the peak-memory column.
    case base = "BASE"

    var summary: String {
        switch self {
        case .w1: "bulk insert 10k+100k"
        case .w2: "fetch+decode 100k"
        case .w3: "load 100k, update 10%"
        case .w4: "64×50 small commits"
        case .w5: "64×500 counter RMW"
        case .w6: "queue+commit 1M rows"
        case .mp: "W4 load, N processes, one file"
        case .m1: "100k inserts, rows/stmt"
        case .base: "empty process"
        }
    }
}

/// Deterministic data, shared by every contender, with the sums the checks expect.
enum Dataset {
    static let authorCount = 10_000
    static let bookCount = 100_000
    static let bigBookCount = 1_000_000
    static let w4Tasks = 64
    /// 50; `DOCKET_BENCH_W4_COMMITS` raises it for profiling (a longer run gives `perf` more samples).
    static let w4CommitsPerTask =
        ProcessInfo.processInfo.environment["DOCKET_BENCH_W4_COMMITS"].flatMap { Int($0) } ?? 50
    /// MP: commits per task in each process. Longer than W4's 50, so that the window in which
    /// all processes write at once is most of the measured span.
    static let mpCommitsPerTask =
        ProcessInfo.processInfo.environment["DOCKET_BENCH_MP_COMMITS"].flatMap { Int($0) } ?? 400
    static func commitsPerTask(_ workload: Workload) -> Int {
        workload == .mp ? mpCommitsPerTask : w4CommitsPerTask
    }
    /// MP: the moment (seconds since 1970) every process of the run starts its timed part, set by
    /// the parent once it has launched them all, so no process writes alone while the others are
    /// still starting (which measured process start-up, not contention).
    static let sharedStartAt = ProcessInfo.processInfo.environment["DOCKET_BENCH_START_AT"].flatMap { Double($0) }
    /// Waits for `sharedStartAt`, if any, and returns the time the timed part starts.
    static func waitForSharedStart() async throws -> Double {
        if let at = sharedStartAt {
            let wait = at - Date().timeIntervalSince1970
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        }
        return Date().timeIntervalSince1970
    }
    static let w5Tasks = 64
    static let w5Increments = 500

    static func authorName(_ i: Int) -> String { "Author number \(i)" }
    /// `Book title number 123`: the checks read the book's number back from its title.
    static func title(_ j: Int) -> String { "Book title number \(j)" }
    /// Quarters: sums of them are exact in a Double.
    static func price(_ j: Int) -> Double { Double(j % 1000) / 4 }
    static func pages(_ j: Int) -> Int { 100 + j % 500 }
    /// 0-based author index of book `j`; the author's id is this + 1 when authors are inserted in order.
    static func authorIndex(_ j: Int) -> Int { j % authorCount }

    struct Sums: Equatable, CustomStringConvertible {
        var count = 0
        var pages = 0
        var authorIDs = 0
        var price = 0.0
        var description: String {
            "count \(count), sum(pages) \(pages), sum(author_id) \(authorIDs), total(price) \(price)"
        }
    }

    /// The sums of books 0..<n as generated (author ids 1-based, in insertion order).
    static func expectedSums(books n: Int) -> Sums {
        var s = Sums()
        for j in 0..<n {
            s.count += 1
            s.pages += pages(j)
            s.authorIDs += authorIndex(j) + 1
            s.price += price(j)
        }
        return s
    }

    static let schema = """
        CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE books (
            id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES authors(id),
            title TEXT NOT NULL,
            price REAL NOT NULL,
            pages INTEGER NOT NULL);
        CREATE INDEX books_author_id ON books(author_id);
        CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0);
        INSERT INTO counters (id, value, version) VALUES (1, 0, 0);
        """
}

/// `synchronous` as the three contenders spell it.
enum Sync: String, Sendable {
    case normal = "NORMAL"
    case full = "FULL"
}

/// What one child process measured.
struct Outcome: Codable, Sendable {
    var workload: String
    var contender: String
    var variant: String = ""
    /// Rows, commits or increments done in `seconds`.
    var operations: Int = 0
    var unit: String = "rows/s"
    var seconds: Double = 0
    var p99Milliseconds: Double?
    var finalValue: Int64?
    /// W5 through units of work with default settings: increments that committed, and those
    /// reported as stale writes (the counter must equal `landed`).
    var landed: Int?
    var reported: Int?
    /// W5 with the retry argument: re-runs per increment.
    var retriesPerOperation: Double?
    /// MP: when the timed part started and ended, in seconds since 1970 (processes compare them).
    var startedAt: Double?
    var endedAt: Double?
    /// VmHWM of the child process, in KiB.
    var peakKiB: Int = 0

    var throughput: Double { seconds > 0 ? Double(operations) / seconds : 0 }
    var label: String { variant.isEmpty ? contender : "\(contender) (\(variant))" }
}

/// A wrong result: the run fails with a non-zero exit.
struct CheckFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure(message()) }
}

/// Times `body` with the continuous clock, in seconds.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = try await body()
    let elapsed = clock.now - start
    return (value, seconds(elapsed))
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The 99th percentile of latencies, in milliseconds.
func p99(_ latencies: [Duration]) -> Double {
    let sorted = latencies.sorted()
    guard !sorted.isEmpty else { return 0 }
    let index = min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)
    return seconds(sorted[max(0, index)]) * 1000
}

/// The process's peak resident set size (VmHWM in /proc/self/status), in KiB.
func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}
