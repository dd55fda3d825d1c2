import Docket
import Foundation

/// Something `docket lint` flags in a migration's up section, with the file and line of the
/// statement at fault.
public struct LintFinding: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What is flagged. A comment `-- docket-lint: allow <check>` on the lines just before the
    /// statement (part of the statement's text) silences that check for that statement.
    public enum Check: String, Sendable, Hashable, Codable, CaseIterable {
        /// Drops a table, or columns of one (`DROP TABLE`, `ALTER TABLE … DROP COLUMN`, or a rebuild
        /// whose new table lacks some of the old one's columns): their data is lost.
        case destructive
        /// Rebuilds a table (drops it and gives another table its name) in a `foreign_keys:on`
        /// migration: dropping the old table deletes its rows with foreign keys on, which fails, or
        /// cascades to the rows that reference them.
        case rebuildWithForeignKeysOn = "rebuild-foreign-keys-on"
        /// `ALTER TABLE … ADD COLUMN … NOT NULL` without a `DEFAULT`: fails on any table with rows.
        case notNullWithoutDefault = "not-null-without-default"
        /// `CREATE INDEX` without `IF NOT EXISTS` in a `transaction:false` migration, which must be
        /// safe to run again after a failure part-way.
        case indexWithoutIfNotExists = "index-without-if-not-exists"
        /// The statement fails on a scratch database with the migrations before it applied.
        case fails
    }

    public let check: Check
    public let version: Int64
    /// The migration's file, or `<version>_<name>` for one registered in code.
    public let path: String
    public let line: Int
    public let message: String

    public var description: String { "\(path):\(line): [\(check.rawValue)] \(message)" }
}

extension Migrator {
    /// Lints every migration's up section: runs them in version order on a scratch database,
    /// statement by statement, comparing the tables and columns before and after each migration,
    /// and reads each statement's text. Returns every finding, in file order; the database of the
    /// application is never touched.
    public func lint() throws(MigrationError) -> [LintFinding] {
        let db = try Self.scratchDatabase()
        defer { db.close() }
        let migrations = self.migrations
        do {
            return try db.blocking.writeWithoutTransaction { connection in
                var findings: [LintFinding] = []
                var schemaKnown = true
                for migration in migrations {
                    findings += try lint(migration, on: connection, running: &schemaKnown)
                }
                return findings
            }
        } catch let error as MigrationError {
            throw error
        } catch {
            throw MigrationError.wrapping(error, doing: "linting on a scratch database")
        }
    }

    private func lint(_ migration: Migration, on db: Connection, running: inout Bool) throws -> [LintFinding] {
        var findings: [LintFinding] = []
        let path = migration.path ?? migration.id
        let options = migration.up.options
        let statements = migration.up.statements
        func flag(_ check: LintFinding.Check, _ statement: SQLStatement, _ message: String) {
            guard !Self.allows(statement.sql, check) else { return }
            findings.append(
                LintFinding(
                    check: check, version: migration.version, path: path, line: statement.line, message: message))
        }
        // What the text says.
        for statement in statements {
            let words = Self.words(statement.sql)
            if words.starts(with: ["ALTER", "TABLE"]), words.contains("ADD"), Self.contains(words, ["NOT", "NULL"]),
                !words.contains("DEFAULT")
            {
                flag(
                    .notNullWithoutDefault, statement,
                    "adds a NOT NULL column without a DEFAULT: this fails on a table that has rows; give it a DEFAULT, "
                        + "or add it nullable, fill it, then rebuild the table")
            }
            if !options.transaction, words.first == "CREATE",
                words.prefix(3).contains("INDEX"), !Self.contains(words, ["IF", "NOT", "EXISTS"])
            {
                flag(
                    .indexWithoutIfNotExists, statement,
                    "CREATE INDEX without IF NOT EXISTS in a transaction:false migration: if a later statement fails, "
                        + "running the migration again fails here; write CREATE INDEX IF NOT EXISTS")
            }
        }
        // What running it does, while the migrations before it all ran.
        guard running, case .sql = migration.up.body else { return findings }
        let start = try MigrationHistory.columnsByTable(db, views: false)
        var current = start
        var vanished: [String: SQLStatement] = [:]
        var narrowed: [String: SQLStatement] = [:]
        try db.execute("PRAGMA foreign_keys = \(options.foreignKeysOff ? "OFF" : "ON")")
        defer { try? db.execute("PRAGMA foreign_keys = ON") }
        for statement in statements {
            do {
                try db.execute(statement.sql)
            } catch {
                if !findings.contains(where: { $0.line == statement.line }) {
                    flag(
                        .fails, statement, "fails on a scratch database with the migrations before it applied: \(error)"
                    )
                }
                // The tables after this point are not what the migrations make: stop comparing them.
                running = false
                return findings
            }
            let after = try MigrationHistory.columnsByTable(db, views: false)
            for (table, columns) in current {
                guard let now = after[table] else {
                    if vanished[table] == nil { vanished[table] = statement }
                    continue
                }
                if narrowed[table] == nil, !Set(columns).isSubset(of: now) { narrowed[table] = statement }
            }
            current = after
        }
        for (table, columns) in start.sorted(by: { $0.key < $1.key }) {
            guard let end = current[table] else {
                if let statement = vanished[table] {
                    flag(.destructive, statement, "drops table \(table) and every row in it")
                }
                continue
            }
            let lost = columns.filter { !end.contains($0) }
            if let rebuild = vanished[table] {
                if !lost.isEmpty {
                    flag(
                        .destructive, rebuild,
                        "rebuilds \(table) without column\(lost.count == 1 ? "" : "s") \(lost.joined(separator: ", ")): "
                            + "their values are lost")
                }
                if !options.foreignKeysOff {
                    flag(
                        .rebuildWithForeignKeysOn, rebuild,
                        "rebuilds \(table) in a foreign_keys:on migration: dropping the old table deletes its rows "
                            + "with foreign keys on, which fails or cascades to the rows that reference them; remove "
                            + "foreign_keys:on (the default turns them off and checks them before commit)")
                }
            } else if !lost.isEmpty, let statement = narrowed[table] {
                flag(
                    .destructive, statement,
                    "drops column\(lost.count == 1 ? "" : "s") \(lost.joined(separator: ", ")) of \(table): "
                        + "\(lost.count == 1 ? "its" : "their") values are lost")
            }
        }
        return findings.sorted { ($0.line, $0.check.rawValue) < ($1.line, $1.check.rawValue) }
    }

    /// Whether `sql` holds `-- docket-lint: allow <check>` (in any of its comments).
    static func allows(_ sql: String, _ check: LintFinding.Check) -> Bool {
        sql.split(separator: "\n").contains { line in
            guard let comment = line.range(of: "--") else { return false }
            let words = line[comment.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard let marker = words.firstIndex(of: "docket-lint:"), words.index(after: marker) < words.endIndex,
                words[words.index(after: marker)] == "allow"
            else { return false }
            return words[words.index(marker, offsetBy: 2)...].contains { $0 == check.rawValue }
        }
    }

    /// The statement's words, upper-cased, with comments and the contents of quotes left out.
    static func words(_ sql: String) -> [String] {
        var words: [String] = []
        var word = ""
        var chars = sql.makeIterator()
        var pending: Character?
        func flush() {
            if !word.isEmpty { words.append(word.uppercased()) }
            word = ""
        }
        while let c = pending ?? chars.next() {
            pending = nil
            switch c {
            case "-":
                let next = chars.next()
                if next == "-" {
                    flush()
                    while let n = chars.next(), n != "\n" {}
                } else {
                    flush()
                    pending = next
                }
            case "/":
                let next = chars.next()
                if next == "*" {
                    flush()
                    var last: Character = " "
                    while let n = chars.next() {
                        if last == "*" && n == "/" { break }
                        last = n
                    }
                } else {
                    flush()
                    pending = next
                }
            case "'", "\"", "`", "[":
                flush()
                let close: Character = c == "[" ? "]" : c
                while let n = chars.next(), n != close {}
                words.append("?")
            case _ where c.isLetter || c.isNumber || c == "_":
                word.append(c)
            default:
                flush()
            }
        }
        flush()
        return words
    }

    private static func contains(_ words: [String], _ run: [String]) -> Bool {
        guard words.count >= run.count else { return false }
        return (0...(words.count - run.count)).contains { Array(words[$0..<$0 + run.count]) == run }
    }
}
