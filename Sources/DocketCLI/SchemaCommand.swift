import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket schema dump|check`: the schema as a file reviewed in pull requests.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Write the schema as SQL, or check the committed schema file against the migrations.",
        subcommands: [Dump.self, Check.self])

    /// Where the schema file lives by default: `schema.sql` beside the migrations folder.
    static func defaultFile(migrations: String) -> String {
        let parent = (migrations as NSString).deletingLastPathComponent
        return ((parent.isEmpty ? "." : parent) as NSString).appendingPathComponent("schema.sql")
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dump",
            abstract: "Print the schema (or write it with --output): of --database, else what the migrations produce.",
            discussion: """
                With a database (--database or DOCKET_DATABASE), its tables, indexes, views and triggers and its \
                latest applied version; without one, the same from the migrations run on a scratch database. \
                Changes nothing.
                """)

        @OptionGroup var location: LocationOptions

        @Option(
            name: .long, help: ArgumentHelp("Write the schema to this file instead of printing it.", valueName: "file"))
        var output: String?

        func run() throws {
            try Failure.reporting {
                let migrator = try location.makeMigrator()
                let schema: String
                if location.resolvedDatabase != nil {
                    let (_, db) = try location.openExistingDatabase()
                    defer { db.close() }
                    schema = try migrator.schemaDump(db)
                } else {
                    try migrator.validate()
                    schema = try migrator.scratchSchema()
                }
                guard let output else {
                    print(schema, terminator: "")
                    return
                }
                do {
                    try schema.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    throw Failure.cannotOpen(output, "cannot write \(output): \(error.localizedDescription)")
                }
                print("Wrote the schema to \(output).")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Exit 3 when the schema file differs from what the migrations produce on a scratch database.")

        @Option(name: .long, help: ArgumentHelp("The folder of <version>_<name>.sql files.", valueName: "dir"))
        var migrations = "./Migrations"

        @Option(
            name: .long,
            help: ArgumentHelp("The schema file (default: schema.sql beside the migrations folder).", valueName: "file")
        )
        var file: String?

        func run() throws {
            try Failure.reporting {
                let migrator = try Migrator(folder: migrations)
                try migrator.validate()
                let path = file ?? SchemaCommand.defaultFile(migrations: migrations)
                guard let data = FileManager.default.contents(atPath: path) else {
                    Failure.printError(
                        "\(path) does not exist: write it with `docket schema dump --migrations \(migrations) "
                            + "--output \(path)` and commit it.")
                    throw Failure.lintFindings
                }
                guard let difference = try migrator.checkSchema(String(decoding: data, as: UTF8.self)) else {
                    print("\(path) matches the schema the migrations produce.")
                    return
                }
                let found = difference.found ?? "(end of file)"
                let wanted = difference.expected ?? "(end of file)"
                Failure.printError(
                    "\(path):\(difference.line): the schema file differs from what the migrations produce: it has "
                        + "\"\(found)\" where they give \"\(wanted)\". Regenerate it with `docket schema dump "
                        + "--migrations \(migrations) --output \(path)` and commit it.")
                throw Failure.lintFindings
            }
        }
    }
}
