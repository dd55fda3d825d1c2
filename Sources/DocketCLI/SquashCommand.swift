import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket squash --to V`: one migration instead of a long history.
struct SquashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squash",
        abstract: "Replace the migrations up to a version with one migration: the schema at that version.",
        discussion: """
            Writes <V>_squashed.sql, whose up section is the schema the migrations up to V produce, and removes \
            their files. Databases that applied them keep working (status shows them 'squashed into V'); new \
            databases run the squashed migration instead. Refuses migrations that change data (INSERT, UPDATE, \
            DELETE): a schema-only squash would drop their rows for new databases. Touches no database.
            """)

    @Option(name: .long, help: ArgumentHelp("The folder of <version>_<name>.sql files.", valueName: "dir"))
    var migrations = "./Migrations"

    @Option(name: .long, help: "The last migration to squash.")
    var to: Int64

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// What `squash --json` prints.
    struct Document: Codable {
        var file: String
        var removed: [String]
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try Migrator(folder: migrations)
            let squash = try migrator.squash(to: to)
            let target = (migrations as NSString).appendingPathComponent(squash.fileName)
            let temporary = (migrations as NSString).appendingPathComponent(".\(squash.fileName).tmp")
            do {
                try squash.contents.write(toFile: temporary, atomically: true, encoding: .utf8)
                for migration in squash.replaced {
                    if let path = migration.path { try FileManager.default.removeItem(atPath: path) }
                }
                try FileManager.default.moveItem(atPath: temporary, toPath: target)
            } catch {
                throw Failure.cannotOpen(migrations, "cannot rewrite \(migrations): \(error.localizedDescription)")
            }
            if json {
                let document = Document(file: target, removed: squash.replaced.compactMap(\.path))
                try printJSON(document)
                return
            }
            let count = squash.replaced.count
            print("Squashed \(count) migration\(count == 1 ? "" : "s") into \(target):")
            for migration in squash.replaced { print("  removed \(migration.path ?? migration.id)") }
            print("Databases that applied them keep working; new databases run \(squash.fileName).")
        }
    }
}
