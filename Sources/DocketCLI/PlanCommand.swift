import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket plan`: what `migrate` would apply, with its SQL. Changes nothing.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the migrations `migrate` would apply, and their SQL. Changes nothing.",
        discussion: """
            With --exit-code, exits 2 when something is pending and 0 when the database is up to date, so a \
            deploy script or CI job can gate on it. Invalid migrations exit 65, as `migrate` would.
            """)

    @OptionGroup var location: LocationOptions

    @Option(name: .long, help: "Plan only up to this version, as `migrate --to`.")
    var to: Int64?

    @Flag(name: .long, help: "Exit 2 when migrations are pending.")
    var exitCode = false

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        _ = try location.requireDatabase()
    }

    /// The JSON document `plan --json` prints.
    struct Document: Codable {
        struct Statement: Codable {
            var line: Int
            var sql: String
        }
        struct Pending: Codable {
            var version: Int64
            var name: String
            var path: String?
            /// The marker line's options, as written (`transaction:false`), or empty.
            var options: String
            /// `false` for a migration registered in Swift, whose step is code.
            var isSQL: Bool
            var statements: [Statement]
            /// A repeatable migration (`R__<name>.sql`, version 0) that never ran or whose file changed.
            var isRepeatable = false
        }
        var database: String
        var migrationsFolder: String
        var pending: [Pending]
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try location.makeMigrator()
            let history = try location.readHistory(migrator)
            let versioned = try migrator.plan(history: history, to: to)
            // As `migrate`: repeatable migrations run once every versioned one is applied.
            let repeatables =
                migrator.runsRepeatables(to: to)
                ? migrator.pendingRepeatables(history: try location.readRepeatableHistory(migrator)).map(\.migration)
                : []
            let pending = versioned + repeatables
            let document = Document(
                database: try location.requireDatabase(), migrationsFolder: location.migrations,
                pending: pending.map { migration in
                    var isSQL = true
                    if case .swift = migration.up.body { isSQL = false }
                    return Document.Pending(
                        version: migration.version, name: migration.name, path: migration.path,
                        options: migration.up.options.description, isSQL: isSQL,
                        statements: migration.up.statements.map { .init(line: $0.line, sql: $0.sql) },
                        isRepeatable: migration.version == 0)
                })
            if json {
                try printJSON(document)
            } else {
                print("Database:   \(document.database)")
                print("Migrations: \(document.migrationsFolder)")
                print("")
                if pending.isEmpty {
                    print("Up to date: nothing to apply.")
                } else {
                    print("\(pending.count) migration\(pending.count == 1 ? "" : "s") to apply, in this order:")
                    for item in document.pending {
                        print("")
                        let options = item.options.isEmpty ? "" : " (\(item.options))"
                        let label = item.isRepeatable ? "R__\(item.name) (repeatable)" : "\(item.version) \(item.name)"
                        print("-- \(label)\(options)\(item.path.map { "  \($0)" } ?? "")")
                        if !item.isSQL { print("-- (a Swift step)") }
                        for statement in item.statements { print(statement.sql) }
                    }
                }
            }
            if exitCode && !pending.isEmpty { throw Failure.pending }
        }
    }
}
