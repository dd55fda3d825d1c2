import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket new NAME`: creates a migration file versioned with the current UTC time.
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create Migrations/<UTC timestamp>_<name>.sql with empty up and down sections.")

    @Argument(help: "What the migration does, e.g. create_books (letters, digits, '_', '-', '.').")
    var name: String

    @Option(name: .long, help: ArgumentHelp("The folder of <version>_<name>.sql files.", valueName: "dir"))
    var migrations = "./Migrations"

    func validate() throws {
        guard !name.isEmpty,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") })
        else {
            throw ValidationError(
                "The name '\(name)' may use only letters, digits, '_', '-' and '.', e.g. add_books_isbn.")
        }
    }

    func run() throws {
        try Failure.reporting {
            let files = FileManager.default
            do {
                try files.createDirectory(atPath: migrations, withIntermediateDirectories: true)
            } catch {
                throw Failure.CannotOpen(description: "cannot create the migrations folder \(migrations): \(error)")
            }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMddHHmmss"
            var version = Int64(formatter.string(from: Date()))!
            // Two files created in the same second, or a clock behind the newest file, still get
            // increasing versions.
            let existing = ((try? files.contentsOfDirectory(atPath: migrations)) ?? []).compactMap { file -> Int64? in
                guard let underscore = file.firstIndex(of: "_") else { return nil }
                return Int64(file[..<underscore])
            }
            if let newest = existing.max(), newest >= version { version = newest + 1 }
            let path = (migrations as NSString).appendingPathComponent("\(version)_\(name).sql")
            let template = """
                -- \(name)
                -- Write the change under 'migrate:up' and what undoes it under 'migrate:down' (or mark the
                -- down marker 'irreversible'). Marker options: transaction:false, foreign_keys:on.
                -- See Docs/Migrations.md.

                -- migrate:up


                -- migrate:down


                """
            guard files.createFile(atPath: path, contents: Data(template.utf8)) else {
                throw Failure.CannotOpen(description: "cannot write \(path)")
            }
            print("Created \(path)")
        }
    }
}
