import ArgumentParser
import Docket
import DocketMigrations

/// `docket`: applies, rolls back and inspects the migrations in a `Migrations/` folder.
@main
struct DocketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docket",
        abstract: "Apply, roll back and inspect Docket migrations on a SQLite database.",
        discussion: """
            Migrations are files named <version>_<name>.sql with a '-- migrate:up' and a '-- migrate:down' \
            section. See Docs/Migrations.md and Docs/CLI.md.

            Exit codes: 0 success; 1 a migration failed and was rolled back; 64 bad command-line usage; \
            65 the migrations are invalid, nothing was run; 66 the database or the migrations folder cannot be \
            opened; 75 the database stayed busy (locked by another process) past the busy timeout; 2 `plan --exit-code` \
            found pending migrations; 3 `lint` or `schema check` found something.
            """,
        subcommands: [
            MigrateCommand.self, RollbackCommand.self, StatusCommand.self, PlanCommand.self, NewCommand.self,
            ValidateCommand.self, LintCommand.self, SchemaCommand.self, SquashCommand.self, RepairCommand.self,
            BaselineCommand.self,
        ]
    )
}
