import Docket
import DocketMigrations
import Foundation
import Testing

@Suite struct ConcurrentRunnerTests {
    @Test func givenTwoDatabasesOnOneFile_whenBothMigrateAtOnce_thenEachMigrationIsAppliedOnceAndNeitherFails()
        throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        // A slow migration keeps the write lock a while, so the runners also overlap mid-run.
        try workspace.write(
            "20261123120250_slow.sql",
            """
            -- migrate:up
            CREATE TABLE slow (n INTEGER);
            WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000)
            INSERT INTO slow SELECT n FROM c;
            -- migrate:down
            DROP TABLE slow;
            """)
        let first = try workspace.open()
        let second = try workspace.open()
        let blocker = try workspace.open()
        defer {
            first.close()
            second.close()
            blocker.close()
        }
        let migrator = try workspace.migrator()
        // A third writer holds the write lock while both runners start, so both read an empty history
        // and then queue on BEGIN IMMEDIATE: the worst case, made certain.
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        // Threads, not GCD: a GCD pool on two cores may not start the second runner while the first blocks.
        onThread(group) {
            try? blocker.blocking.writeWithoutTransaction { connection in
                try connection.execute("BEGIN IMMEDIATE")
                locked.signal()
                release.wait()
                try connection.execute("COMMIT")
            }
        }
        locked.wait()
        let results = ResultsBox()
        for db in [first, second] {
            onThread(group) {
                results.append(Result { try migrator.migrate(db) })
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        release.signal()
        group.wait()

        let runs = try results.values.map { try $0.get() }
        let versions = migrator.migrations.map(\.version)
        #expect(runs.count == 2)
        // Both runners went through every migration: one applied it, the other found it done.
        #expect(runs.allSatisfy { $0.map(\.version) == versions })
        let applied = runs.flatMap { $0.filter { !$0.wasDoneByAnotherRunner } }.map(\.version).sorted()
        #expect(applied == versions)
        #expect(try appliedVersions(first) == versions)
        #expect(try first.blocking.read { try $0.scalar("SELECT count(*) FROM slow") } == .integer(300_000))
    }
}

/// Runs `body` on a new thread, inside `group`.
private func onThread(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
    group.enter()
    Thread {
        body()
        group.leave()
    }.start()
}

/// Collects results from several threads.
final class ResultsBox: @unchecked Sendable {
    // Every access holds `lock`.
    private let lock = NSLock()
    private var stored: [Result<[MigrationRun], any Error>] = []

    func append(_ result: Result<[MigrationRun], any Error>) {
        lock.lock()
        stored.append(result)
        lock.unlock()
    }

    var values: [Result<[MigrationRun], any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
