import Docket
import DocketMigrations
import Foundation
import Testing

/// The migrator's async API (`migrator.async`), as a server's startup would use it.
@Suite struct AsyncMigratorTests {
    @Test func givenTheBookstoreMigrations_whenRunThroughTheAsyncAPI_thenEachCallDoesWhatItsBlockingFormDoes()
        async throws
    {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.copyBookstoreMigrations()
        let migrator = try Migrator(folder: workspace.migrations)
        let db = try Database(path: workspace.database)
        defer { db.close() }

        #expect(try await migrator.async.plan(db).count == 6)
        #expect(try await migrator.async.lint().isEmpty)
        let runs = try await migrator.async.migrate(db)
        #expect(runs.map(\.direction) == Array(repeating: .up, count: 6))
        #expect(try await migrator.async.plan(db).isEmpty)
        #expect(try await migrator.async.status(db).allSatisfy { $0.state == .applied })
        try await migrator.async.validate(db)
        #expect(try await migrator.async.schemaDump(db) == (try await migrator.async.scratchSchema()))

        let undone = try await migrator.async.rollback(db, steps: 2)
        #expect(undone.map(\.version) == [20_261_123_120_500, 20_261_123_120_400])
        #expect(try await migrator.async.plan(db).count == 2)
    }

    @Test func givenAnEditedAppliedMigration_whenMigratingAsync_thenTheTypedErrorComesThrough() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("1_authors.sql", PlanAndLintTests.authors)
        let db = try Database(path: workspace.database)
        defer { db.close() }
        try await Migrator(folder: workspace.migrations).async.migrate(db)
        try workspace.write(
            "1_authors.sql", PlanAndLintTests.authors.replacingOccurrences(of: "bio TEXT", with: "bio BLOB"))
        let edited = try Migrator(folder: workspace.migrations)
        do {
            try await edited.async.migrate(db)
            Issue.record("an edited applied migration was accepted")
        } catch {
            #expect(error.kind == .modified)
        }
        let repairs = try await edited.async.repair(db)
        #expect(repairs.map(\.version) == [1])
        #expect(try await edited.async.migrate(db).isEmpty)
    }
}
