import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// `docket lint`: flags risky statements in the migrations' up sections.
struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Flag destructive or risky statements in the migrations, with their file and line.",
        discussion: """
            Runs the up sections on a scratch database (never on yours) and reads their text. Flags: \
            destructive (drops a table or columns, a rebuild that loses columns), rebuild-foreign-keys-on, \
            not-null-without-default, index-without-if-not-exists (in a transaction:false migration), fails. \
            A comment '-- docket-lint: allow <check>' on the lines before a statement silences that check there. \
            Exits 3 when something is flagged, 0 when nothing is.
            """)

    @Option(name: .long, help: "The migrations folder.")
    var migrations = "./Migrations"

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// The JSON document `lint --json` prints.
    struct Document: Codable {
        var migrationsFolder: String
        var findings: [LintFinding]
    }

    func run() throws {
        try Failure.reporting {
            let migrator = try Migrator(folder: migrations)
            try migrator.validate()
            let findings = try migrator.lint()
            if json {
                try printJSON(Document(migrationsFolder: migrations, findings: findings))
            } else {
                for finding in findings {
                    FileHandle.standardError.write(Data("warning: \(finding.description)\n".utf8))
                }
                let count = migrator.migrations.count
                print(
                    findings.isEmpty
                        ? "\(count) migration\(count == 1 ? "" : "s") linted: nothing flagged."
                        : "\(count) migration\(count == 1 ? "" : "s") linted: \(findings.count) flagged.")
            }
            if !findings.isEmpty { throw Failure.lintFindings }
        }
    }
}
