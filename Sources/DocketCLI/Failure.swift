import ArgumentParser
import Docket
import DocketMigrations
import Foundation

/// Turns errors into a message on standard error and a documented exit code (see Docs/CLI.md).
enum Failure {
    /// 1: a migration or rollback failed while running and was rolled back.
    static let migrationFailed = ExitCode(1)
    /// 65 (EX_DATAERR): the migrations are invalid; nothing was run.
    static let invalidMigrations = ExitCode(65)
    /// 66 (EX_NOINPUT): the database or the migrations folder cannot be opened.
    static let cannotOpen = ExitCode(66)
    /// 75 (EX_TEMPFAIL): the database stayed locked by another process past the busy timeout.
    static let busy = ExitCode(75)
    /// 2: `plan --exit-code` found pending migrations (as `terraform plan -detailed-exitcode`).
    static let pending = ExitCode(2)
    /// 3: `lint` flagged something.
    static let lintFindings = ExitCode(3)

    struct CannotOpen: Error, CustomStringConvertible {
        let description: String
    }

    static func cannotOpen(_ path: String, _ error: Any) -> CannotOpen {
        if let error = error as? DatabaseError { return CannotOpen(description: error.message) }
        return CannotOpen(description: "\(error)")
    }

    /// Runs `body`; prints any failure on standard error and exits with its code.
    static func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as MigrationError {
            printError(error.description)
            throw exitCode(for: error)
        } catch let error as CannotOpen {
            printError(error.description)
            throw cannotOpen
        }
    }

    static func exitCode(for error: MigrationError) -> ExitCode {
        switch error.kind {
        case .statementFailed, .foreignKeyViolation: return migrationFailed
        case .folderNotFound: return cannotOpen
        case .database:
            switch error.databaseError?.resultCode {
            case 5: return busy  // SQLITE_BUSY
            case 14, 26: return cannotOpen  // SQLITE_CANTOPEN, SQLITE_NOTADB
            default: return migrationFailed
            }
        case .malformedFileName, .duplicateVersion, .malformedFile, .missingUpSection, .missingDownSection,
            .incompleteStatement, .modified, .outOfOrder, .irreversible, .missingMigration, .invalidTarget,
            .invalidMigrations, .partiallySquashed:
            return invalidMigrations
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    }

    static func printWarning(_ message: String) {
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }
}

/// Every line the tool prints goes straight to standard output, one `write(2)` per line, so output
/// into a pipe (a deploy log, `| tee`) appears line by line as it happens, not when the process
/// exits. Shadows `Swift.print` in this module.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { "\($0)" }.joined(separator: separator) + terminator
    FileHandle.standardOutput.write(Data(text.utf8))
}
