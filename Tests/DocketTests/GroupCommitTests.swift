import Docket
import Foundation
import Testing

/// Group commit: write jobs waiting behind a running one share its transaction, each inside its
/// own SAVEPOINT, so a failing job undoes only itself. Asserted on the rows that land and on the
/// SQL the writer emits. Serialized: each test holds the writer while others queue behind it.
@Suite(.serialized) struct GroupCommitTests {
    struct JobFailed: Error, Equatable { let n: Int }

    /// A database whose writer is held by a first job until `release` is set, with `waiting` jobs
    /// queued behind it; job `n` inserts `n` and throws if `failing` contains it (after inserting).
    /// Returns each job's outcome (`nil` for success) and the SQL logged from the first job on.
    static func run(
        _ groupCommit: GroupCommit, waiting: Int, failing: Set<Int>
    ) async throws -> (outcomes: [Int: JobFailed?], rows: [Int64], sql: [String]) {
        let log = SQLLog()
        var configuration = Configuration()
        configuration.groupCommit = groupCommit
        configuration.logger = log.logger
        let db = try Database.temporary(configuration: configuration)
        try await db.write { try $0.execute("CREATE TABLE jobs (n INTEGER PRIMARY KEY)") }
        let firstSQL = log.statements.count
        let running = Flag()
        let release = Flag()

        let outcomes = try await withThrowingTaskGroup(of: (Int, JobFailed?).self) { group in
            group.addTask {
                do {
                    try await db.write { db in
                        try db.execute("INSERT INTO jobs (n) VALUES (?)", [0])
                        running.set()
                        _ = waitUntil { release.isSet }
                        if failing.contains(0) { throw JobFailed(n: 0) }
                    }
                    return (0, nil)
                } catch let error as JobFailed { return (0, error) }
            }
            while !running.isSet { try await Task.sleep(for: .milliseconds(1)) }
            for n in 1...waiting {
                group.addTask {
                    do {
                        try await db.write { db in
                            try db.execute("INSERT INTO jobs (n) VALUES (?)", [n])
                            if failing.contains(n) { throw JobFailed(n: n) }
                        }
                        return (n, nil)
                    } catch let error as JobFailed { return (n, error) }
                }
            }
            // Let every job reach the writer's queue before the first one finishes.
            try await Task.sleep(for: .milliseconds(300))
            release.set()
            return try await group.reduce(into: [Int: JobFailed?]()) { $0[$1.0] = $1.1 }
        }
        let sql = Array(log.statements[firstSQL...])
        let rows = try await db.read { try $0.fetchAll("SELECT n FROM jobs ORDER BY n").map { $0[0].integerValue! } }
        return (outcomes, rows, sql)
    }

    static let longGroups = GroupCommit(maximumJobs: 64, maximumDuration: .seconds(30))

    @Test func givenJobsQueuedBehindAWrite_whenOneOfThemThrows_thenOnlyThatJobIsUndoneAndTheRestCommitTogether()
        async throws
    {
        let (outcomes, rows, sql) = try await Self.run(Self.longGroups, waiting: 5, failing: [3])
        #expect(outcomes.count == 6)
        #expect(outcomes[3] == .some(JobFailed(n: 3)))
        #expect(outcomes.filter { $0.key != 3 }.allSatisfy { $0.value == nil })
        #expect(rows == [0, 1, 2, 4, 5])
        // One transaction for all six jobs: the first without a savepoint, the five others each in one.
        let writerSQL = sql.filter { !$0.hasPrefix("SELECT") && $0 != "BEGIN DEFERRED" }
        #expect(writerSQL.filter { $0 == "BEGIN IMMEDIATE" }.count == 1)
        #expect(writerSQL.filter { $0 == "SAVEPOINT docket_job" }.count == 5)
        #expect(writerSQL.filter { $0 == "ROLLBACK TO docket_job; RELEASE docket_job" }.count == 1)
        #expect(writerSQL.filter { $0 == "RELEASE docket_job" }.count == 4)
        #expect(writerSQL.last == "COMMIT")
    }

    @Test func givenJobsQueuedBehindAWrite_whenTheFirstJobThrows_thenOnlyItIsUndone() async throws {
        let (outcomes, rows, _) = try await Self.run(Self.longGroups, waiting: 4, failing: [0])
        #expect(outcomes[0] == .some(JobFailed(n: 0)))
        #expect(outcomes.filter { $0.key != 0 }.allSatisfy { $0.value == nil })
        #expect(rows == [1, 2, 3, 4])
    }

    @Test func givenAMaximumOfTwoJobsPerGroup_whenFiveJobsWait_thenTransactionsHoldAtMostTwo() async throws {
        let (outcomes, rows, sql) = try await Self.run(
            GroupCommit(maximumJobs: 2, maximumDuration: .seconds(30)),
            waiting: 5, failing: [])
        #expect(outcomes.values.allSatisfy { $0 == nil })
        #expect(rows == [0, 1, 2, 3, 4, 5])
        #expect(sql.filter { $0 == "BEGIN IMMEDIATE" }.count == 3)
        #expect(sql.filter { $0 == "SAVEPOINT docket_job" }.count == 3)
    }

    @Test func givenGroupCommitDisabled_whenJobsWait_thenEachRunsInItsOwnTransaction() async throws {
        let (outcomes, rows, sql) = try await Self.run(.disabled, waiting: 4, failing: [2])
        #expect(outcomes[2] == .some(JobFailed(n: 2)))
        #expect(rows == [0, 1, 3, 4])
        #expect(sql.filter { $0 == "BEGIN IMMEDIATE" }.count == 5)
        #expect(sql.filter { $0 == "SAVEPOINT docket_job" }.isEmpty)
        #expect(sql.filter { $0 == "ROLLBACK" }.count == 1)
    }
}
