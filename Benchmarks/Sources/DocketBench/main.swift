import Foundation

// docket-bench: with no `--only`, runs every contender × workload, each in a child process of this
// same binary (so each peak-memory figure is that child's own VmHWM), and prints the table.
// With `--only W --contender C`, it is such a child: it runs one workload, checks the result and
// prints one `RESULT {json}` line. Any wrong result makes the run exit non-zero.

struct Options {
    var only: Workload?
    var contender = "docket"
    var variant = ""
    var sync = Sync.normal
    var runs = 3
    var workloads = Set(Workload.allCases)
    /// MP children: the database file every process of the run shares.
    var shared: String?

    init(_ arguments: [String]) throws {
        var i = 1
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw CheckFailure("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--only":
                let name = try value()
                guard let w = Workload(rawValue: name.uppercased()) else {
                    throw CheckFailure("unknown workload \(name)")
                }
                only = w
            case "--contender": contender = try value()
            case "--variant": variant = try value()
            case "--sync": sync = Sync(rawValue: try value().uppercased()) ?? .normal
            case "--runs": runs = max(1, Int(try value()) ?? 3)
            case "--shared": shared = try value()
            case "--workloads":
                workloads = Set(try value().split(separator: ",").compactMap { Workload(rawValue: $0.uppercased()) })
            case "-h", "--help":
                print(
                    """
                    usage: docket-bench [--runs N] [--workloads W1,W2,…]
                           docket-bench --only W1 --contender raw|docket|docket-uow|grdb [--sync normal|full] [--variant TEXT]
                    """)
                exit(0)
            default: throw CheckFailure("unknown argument \(arguments[i])")
            }
            i += 1
        }
    }
}

// MARK: Child: one workload, one contender

func runChild(_ options: Options, _ workload: Workload) async throws -> Outcome {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var outcome: Outcome
    let file: String
    switch options.contender {
    case "raw":
        outcome = try await RawContender.run(workload, variant: options.variant, sync: options.sync, folder: folder)
        file = "raw"
    case "docket":
        outcome = try await DocketContender.run(
            workload, variant: options.variant, sync: options.sync, folder: folder, shared: options.shared)
        file = "docket"
    case "docket-uow":
        outcome = try await DocketContender.run(
            workload, variant: "uow-" + options.variant, sync: options.sync, folder: folder)
        file = "docket"
    case "grdb":
        outcome = try await GRDBContender.run(
            workload, variant: options.variant, sync: options.sync, folder: folder, shared: options.shared)
        file = "grdb"
    default:
        throw CheckFailure("unknown contender \(options.contender)")
    }
    outcome.variant = options.variant
    if workload != .base && workload != .mp {
        outcome.finalValue = try verify(workload, path: "\(folder)/\(file).sqlite", landed: outcome.landed)
    }
    return outcome
}

/// Checks the database a workload left behind, with plain SQL on a fresh connection. Returns the
/// workload's final value where it has one (W5's counter).
func verify(_ workload: Workload, path: String, landed: Int? = nil) throws -> Int64? {
    let db = try RawDB(path: path)
    try check(try db.integrityOK(), "\(workload.rawValue): integrity_check failed")
    switch workload {
    case .w1:
        try check(try db.int("SELECT count(*) FROM authors") == Int64(Dataset.authorCount), "W1: author count")
        let sums = try db.bookSums()
        let expected = Dataset.expectedSums(books: Dataset.bookCount)
        try check(sums == expected, "W1: \(sums), expected \(expected)")
        try check(try db.correctlyLinkedBooks() == Dataset.bookCount, "W1: books linked to the wrong author")
    case .w2:
        let expected = Dataset.expectedSums(books: Dataset.bookCount)
        try check(try db.bookSums() == expected, "W2: the fixture changed")
    case .w3:
        var expected = Dataset.expectedSums(books: Dataset.bookCount)
        expected.pages += Dataset.bookCount / 10
        let sums = try db.bookSums()
        try check(sums == expected, "W3: \(sums), expected \(expected)")
        // Exactly the books with id ≡ 1 (mod 10) changed: book j has id j + 1.
        let changed = try db.int(
            "SELECT count(*) FROM books WHERE pages = 100 + (CAST(substr(title, 19) AS INTEGER) % 500) + (id % 10 = 1)")
        try check(changed == Int64(Dataset.bookCount), "W3: \(Dataset.bookCount - Int(changed)) books have wrong pages")
    case .w4:
        let commits = Int64(Dataset.w4Tasks * Dataset.w4CommitsPerTask)
        try check(try db.int("SELECT count(*) FROM authors") == commits, "W4: author count")
        try check(try db.int("SELECT count(*) FROM books") == 2 * commits, "W4: book count")
        let linked = try db.int(
            """
            SELECT count(*) FROM books b JOIN authors a ON a.id = b.author_id
            WHERE 'W4 book ' || substr(a.name, 11) || '-' = substr(b.title, 1, length(b.title) - 1)
            """)
        try check(linked == 2 * commits, "W4: \(2 * commits - linked) books linked to the wrong author")
    case .w5:
        let value = try db.int("SELECT value FROM counters WHERE id = 1")
        // Default settings through units of work: every increment that committed is in the counter
        // (none lost); the others were reported as stale writes.
        let expected = Int64(landed ?? Dataset.w5Tasks * Dataset.w5Increments)
        try check(value == expected, "W5: the counter is \(value), expected \(expected): increments were lost")
        return value
    case .w6:
        let sums = try db.bookSums()
        let expected = Dataset.expectedSums(books: Dataset.bigBookCount)
        try check(sums == expected, "W6: \(sums), expected \(expected)")
    case .m1:
        let sums = try db.bookSums()
        let expected = Dataset.expectedSums(books: Dataset.bookCount)
        try check(sums == expected, "M1: \(sums), expected \(expected)")
    case .base, .mp:
        break
    }
    return nil
}

// MARK: Parent: the matrix

struct Job {
    let workload: Workload
    let contender: String
    var variant = ""
    var sync = Sync.normal

    var arguments: [String] {
        ["--only", workload.rawValue, "--contender", contender, "--sync", sync.rawValue]
            + (variant.isEmpty ? [] : ["--variant", variant])
    }
    var key: String { "\(workload.rawValue)|\(contender)|\(variant)" }
}

func matrix(_ workloads: Set<Workload>) -> [Job] {
    var jobs: [Job] = []
    for contender in ["raw", "docket", "grdb"] { jobs.append(Job(workload: .base, contender: contender)) }
    for w in [Workload.w1, .w2, .w3] {
        for contender in ["raw", "docket", "grdb"] { jobs.append(Job(workload: w, contender: contender)) }
        // The same models without `@Table`: what the macro buys.
        jobs.append(Job(workload: w, contender: "docket", variant: "Codable"))
    }
    // Bulk inserts with links cost what bulk inserts without them do (issue 14).
    for variant in ["bulk links", "bulk, keys known"] {
        jobs.append(Job(workload: .w1, contender: "docket", variant: variant))
    }
    for sync in [Sync.normal, .full] {
        jobs.append(Job(workload: .w4, contender: "raw", variant: sync.rawValue, sync: sync))
        jobs.append(Job(workload: .w4, contender: "docket", variant: sync.rawValue, sync: sync))
        jobs.append(Job(workload: .w4, contender: "docket", variant: "\(sync.rawValue), group commit off", sync: sync))
        jobs.append(Job(workload: .w4, contender: "grdb", variant: sync.rawValue, sync: sync))
    }
    for contender in ["raw", "docket", "grdb"] { jobs.append(Job(workload: .w5, contender: contender)) }
    // Through units of work: (a) the natural code, defaults; (b) the same with the retry argument;
    // (c) reads and commit in one write job (`writeUnitOfWork`).
    for variant in ["natural", "retry", "writer"] {
        jobs.append(Job(workload: .w5, contender: "docket-uow", variant: variant))
    }
    for contender in ["raw", "docket", "grdb"] { jobs.append(Job(workload: .w6, contender: contender)) }
    for rows in [1, 16, 64, 256] { jobs.append(Job(workload: .m1, contender: "raw", variant: "rows=\(rows)")) }
    for processes in [1, 2, 4] {
        for contender in ["docket", "grdb"] {
            jobs.append(Job(workload: .mp, contender: contender, variant: "processes=\(processes)"))
        }
    }
    return jobs.filter { workloads.contains($0.workload) }
}

/// MP: starts `processes=N` children at once on one shared file, each running W4's load, and
/// combines them: commits of all of them over the span from the first start to the last end; the
/// worst p99; a check of every row on a fresh connection.
func spawnShared(_ job: Job) throws -> Outcome {
    let processes = Int(job.variant.split(separator: "=").last ?? "1") ?? 1
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("docket-bench-mp-\(UUID().uuidString)")
        .path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/shared.sqlite"
    try RawDB.buildFixture(path: path, authors: false, books: 0)
    let child = Job(workload: .mp, contender: job.contender, variant: "", sync: job.sync)
    // Every child opens the file, then waits for this moment: long enough for all to launch.
    let startAt = Date().timeIntervalSince1970 + 1.0 + 0.25 * Double(processes)
    let results = Locked<[Result<Outcome, Error>]>([])
    let group = DispatchGroup()
    for _ in 0..<processes {
        group.enter()
        Thread {
            let result = Result { try spawn(child, extra: ["--shared", path], startAt: startAt) }
            results.withLock { $0.append(result) }
            group.leave()
        }.start()
    }
    group.wait()
    let outcomes = try results.withLock { $0 }.map { try $0.get() }
    var combined = Outcome(workload: job.workload.rawValue, contender: job.contender, variant: job.variant)
    combined.unit = "commits/s"
    combined.operations = outcomes.map(\.operations).reduce(0, +)
    let start = outcomes.compactMap(\.startedAt).min() ?? 0
    let end = outcomes.compactMap(\.endedAt).max() ?? 0
    combined.seconds = end - start
    combined.p99Milliseconds = outcomes.compactMap(\.p99Milliseconds).max()
    combined.peakKiB = outcomes.map(\.peakKiB).max() ?? 0
    let db = try RawDB(path: path)
    try check(try db.integrityOK(), "MP: integrity_check failed")
    let authors = try db.int("SELECT count(*) FROM authors")
    try check(
        authors == Int64(combined.operations),
        "MP: \(authors) authors for \(combined.operations) commits: commits were lost")
    try check(try db.int("SELECT count(*) FROM books") == 2 * authors, "MP: book count")
    return combined
}

/// A minimal lock for the parent's bookkeeping.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

func spawn(_ job: Job, extra: [String] = [], startAt: Double? = nil) throws -> Outcome {
    if job.workload == .mp && extra.isEmpty { return try spawnShared(job) }
    let process = Process()
    process.executableURL = URL(
        fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    process.arguments = job.arguments + extra
    if let startAt {
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["DOCKET_BENCH_START_AT": String(startAt)], uniquingKeysWith: { $1 })
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
        let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") })
    else {
        throw CheckFailure(
            "\(job.arguments.joined(separator: " ")) failed (exit \(process.terminationStatus)): \(output)")
    }
    return try JSONDecoder().decode(Outcome.self, from: Data(line.dropFirst(7).utf8))
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func format(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)
}

func runParent(_ options: Options) -> Int32 {
    let jobs = matrix(options.workloads)
    var outcomes: [String: [Outcome]] = [:]
    var failures: [String] = []
    for run in 1...options.runs {
        for job in jobs {
            FileHandle.standardError.write(
                Data("run \(run)/\(options.runs): \(job.arguments.joined(separator: " "))… ".utf8))
            do {
                let outcome = try spawn(job)
                outcomes[job.key, default: []].append(outcome)
                FileHandle.standardError.write(
                    Data("\(format(outcome.throughput)) \(outcome.unit), \(outcome.peakKiB / 1024) MiB\n".utf8))
            } catch {
                failures.append("\(error)")
                FileHandle.standardError.write(Data("FAILED: \(error)\n".utf8))
            }
        }
    }
    print(
        "| workload | contender | throughput (median of \(options.runs)) | spread | ratio to raw (time) | p99 | peak memory |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    var seen = Set<String>()
    for job in jobs where seen.insert(job.key).inserted {
        guard let results = outcomes[job.key], let first = results.first else { continue }
        let throughputs = results.map(\.throughput)
        let mid = median(throughputs)
        let spread = mid > 0 ? (throughputs.max()! - throughputs.min()!) / mid * 100 : 0
        var ratio = ""
        let rawKey: String? =
            switch job.workload {
            case .m1: "M1|raw|rows=1"
            case .w4: "W4|raw|\(job.sync.rawValue)"
            case .mp: "MP|docket|processes=1"
            case .base: nil
            default: "\(job.workload.rawValue)|raw|"
            }
        if let rawKey, let raw = outcomes[rawKey] {
            ratio = String(format: "%.2f×", median(raw.map(\.throughput)) / mid)
        }
        let p99s = results.compactMap(\.p99Milliseconds)
        let p99 = p99s.isEmpty ? "" : String(format: "%.1f ms", median(p99s))
        let peak = Int(median(results.map { Double($0.peakKiB) }) / 1024)
        var throughput = job.workload == .base ? "" : "\(format(mid)) \(first.unit)"
        if let final = first.finalValue { throughput += " (final \(final))" }
        let reported = results.compactMap(\.reported).map(Double.init)
        if !reported.isEmpty { throughput += String(format: " (%.0f reported stale)", median(reported)) }
        let retries = results.compactMap(\.retriesPerOperation)
        if !retries.isEmpty { throughput += String(format: " (%.2f retries/increment)", median(retries)) }
        print(
            "| \(job.workload.rawValue) \(job.workload.summary) | \(first.label) | \(throughput) | "
                + "\(job.workload == .base ? "" : String(format: "±%.0f%%", spread / 2)) | \(ratio) | \(p99) | \(peak) MiB |"
        )
    }
    if !failures.isEmpty {
        print("\nFAILED (\(failures.count)):")
        for failure in failures { print("- \(failure)") }
        return 1
    }
    return 0
}

// MARK: Entry point

do {
    let options = try Options(CommandLine.arguments)
    if let workload = options.only {
        let outcome = try await runChild(options, workload)
        let json = try JSONEncoder().encode(outcome)
        print("RESULT " + String(decoding: json, as: UTF8.self))
    } else {
        exit(runParent(options))
    }
} catch {
    FileHandle.standardError.write(Data("docket-bench: \(error)\n".utf8))
    exit(1)
}
