import Foundation
import Testing

/// `UnitOfWork` is not `Sendable`: sharing one between tasks must be a compile error. These tests
/// compile small programs against the built Docket module with the Swift 6 compiler and read its
/// verdict, so the guarantee is checked, not just documented.
@Suite struct CompileCheckTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Compiles `source` to SIL (where Swift's data-race checks run); returns its diagnostics and exit status.
    func compile(_ source: String, warningsAsErrors: Bool = false) throws -> (status: Int32, output: String) {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        let modules = binary.deletingLastPathComponent().appendingPathComponent("Modules").path
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "docket-compile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("main.swift")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "swiftc", "-emit-sil", "-o", "/dev/null", "-swift-version", "6", "-I", modules,
                "-I", Self.packageRoot.appendingPathComponent("Sources/CSQLite").path, file.path,
            ] + (warningsAsErrors ? ["-warnings-as-errors"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    static let model = "struct Author: Model { var id: Int64?; var name: String }\n"

    @Test func givenAUnitOfWorkUsedByOneTask_whenCompiled_thenItCompiles() throws {
        let result = try compile(
            "import Docket\n" + Self.model + """
                func work(_ db: Database) async throws {
                    let uow = UnitOfWork(database: db)
                    uow.insert(Author(name: "a"))
                    try await uow.commit()
                }
                """)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func givenAUnitOfWorkSharedWithTwoChildTasks_whenCompiled_thenTheCompilerRejectsIt() throws {
        let result = try compile(
            "import Docket\n" + Self.model + """
                func share(_ db: Database) async {
                    let uow = UnitOfWork(database: db)
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { _ = uow.insert(Author(name: "a")) }
                        group.addTask { _ = uow.insert(Author(name: "b")) }
                    }
                }
                """)
        #expect(result.status != 0)
        #expect(result.output.contains("risks causing data races"), "\(result.output)")
    }

    @Test func givenAUnitOfWorkUsedAfterBeingSentToATask_whenCompiled_thenTheCompilerRejectsIt() throws {
        let result = try compile(
            "import Docket\n" + Self.model + """
                func share(_ db: Database) async {
                    let uow = UnitOfWork(database: db)
                    Task { _ = uow.insert(Author(name: "a")) }
                    uow.rollback()
                }
                """)
        #expect(result.status != 0)
        #expect(result.output.contains("risks causing data races"), "\(result.output)")
    }

    // Top-level code (a `main.swift`) is where overload resolution used to pick a blocking form of
    // `try await db.read { … }` with only a warning: the blocking forms now have names of their own.
    @Test func givenTopLevelCodeAwaitingReadsWritesAndCommits_whenCompiled_thenEveryCallIsTheAsyncForm() throws {
        let result = try compile(
            "import Docket\n" + Self.model + """
                let db = try Database.temporary()
                try await db.write { try $0.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT)") }
                let count = try await db.read { try $0.scalar("SELECT count(*) FROM authors") }
                let uow = UnitOfWork(database: db)
                uow.insert(Author(name: "a"))
                try await uow.commit()
                _ = try await uow.find(Author.self, id: 1)
                print(count)
                """, warningsAsErrors: true)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func givenTopLevelCodeCallingReadWithoutAwait_whenCompiled_thenItDoesNotCompile() throws {
        let result = try compile(
            "import Docket\n" + """
                let db = try Database.temporary()
                let count = try db.read { try $0.scalar("SELECT 1") }
                """)
        #expect(result.status != 0)
        #expect(result.output.contains("'async'"), "\(result.output)")
    }

    @Test func givenThreadCodeUsingTheBlockingView_whenCompiled_thenItCompilesWithoutWarnings() throws {
        let result = try compile(
            "import Docket\n" + Self.model + """
                func work(_ db: Database) throws {
                    let count = try db.blocking.read { try $0.scalar("SELECT count(*) FROM authors") }
                    let uow = UnitOfWork(database: db)
                    uow.insert(Author(name: "a"))
                    try uow.blocking.commit()
                    _ = try uow.blocking.find(Author.self, id: 1)
                    print(count)
                }
                """, warningsAsErrors: true)
        #expect(result.status == 0, "\(result.output)")
    }
}
