import Crypto
import Docket
import Foundation

/// Reads one `<version>_<name>.sql` file into a ``Migration``.
///
/// ```sql
/// -- migrate:up
/// CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
///
/// -- migrate:down
/// DROP TABLE authors;
/// ```
///
/// The format is dbmate's: a marker line starts each section, options follow it on the same line
/// (`transaction:false`, `foreign_keys:on`, and `irreversible` for the down marker), and only
/// comments may come before the first marker.
enum MigrationFile {
    /// The version and name of a migration file name, or `nil` when it is not `<digits>_<name>.sql`.
    static func parseName(_ fileName: String) -> (version: Int64, name: String)? {
        guard case .valid(let version, let name) = checkName(fileName) else { return nil }
        return (version, name)
    }

    /// What a file name says, or what is wrong with its version.
    enum NameCheck: Equatable {
        case valid(version: Int64, name: String)
        /// Not `<digits>_<name>.sql` at all.
        case malformed
        /// Version 0: versions start at 1.
        case zeroVersion
        /// More than `Int64.max`: the digits as written.
        case versionTooLarge(String)
    }

    static func checkName(_ fileName: String) -> NameCheck {
        guard fileName.hasSuffix(".sql"), let underscore = fileName.firstIndex(of: "_") else { return .malformed }
        let digits = fileName[..<underscore]
        let name = fileName[fileName.index(after: underscore)..<fileName.index(fileName.endIndex, offsetBy: -4)]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), !name.isEmpty,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") })
        else { return .malformed }
        guard let version = Int64(digits) else { return .versionTooLarge(String(digits)) }
        return version == 0 ? .zeroVersion : .valid(version: version, name: String(name))
    }

    /// Parses a file's contents. Returns every problem found, not only the first.
    static func parse(path: String, version: Int64, name: String, contents: String) -> Result<
        Migration, MigrationErrors
    > {
        var problems: [MigrationError] = []
        let lines = normalizedLines(contents)

        var current: WritableKeyPath<(up: Section?, down: Section?), Section?>?
        var sections: (up: Section?, down: Section?) = (nil, nil)
        var reportedStraySQL = false
        var squashes: [Int64: String] = [:]

        for (index, line) in lines.enumerated() {
            let lineNumber = index + 1
            if let marker = Marker(line) {
                switch marker {
                case .malformed(let text):
                    problems.append(
                        MigrationError(
                            .malformedFile,
                            "'\(text)' is not a section marker; write '-- migrate:up' or '-- migrate:down'.",
                            path: path, line: lineNumber))
                case .section(let isUp, let words):
                    let key: WritableKeyPath<(up: Section?, down: Section?), Section?> = isUp ? \.up : \.down
                    let label = isUp ? "up" : "down"
                    if let earlier = sections[keyPath: key] {
                        problems.append(
                            MigrationError(
                                .malformedFile,
                                "a second '-- migrate:\(label)' marker; the first is on line \(earlier.markerLine).",
                                path: path, line: lineNumber))
                        current = nil
                        continue
                    }
                    var section = Section(markerLine: lineNumber)
                    var optionWords = words
                    if !isUp, let i = optionWords.firstIndex(of: "irreversible") {
                        section.irreversible = true
                        optionWords.remove(at: i)
                    }
                    do {
                        section.options = try MigrationOptions(words: optionWords)
                    } catch {
                        let message = error.message(marker: label, more: isUp ? "" : ", and irreversible")
                        problems.append(MigrationError(.malformedFile, message, path: path, line: lineNumber))
                    }
                    sections[keyPath: key] = section
                    current = key
                }
            } else if let current {
                sections[keyPath: current]!.lines.append(line)
            } else if line.hasPrefix("-- docket:squashed ") {
                let words = line.split(separator: " ")
                if words.count == 4, let replaced = Int64(words[2]), words[3].count == 64 {
                    squashes[replaced] = String(words[3])
                } else {
                    problems.append(
                        MigrationError(
                            .malformedFile, "'\(line)' is not '-- docket:squashed <version> <checksum>'.", path: path,
                            line: lineNumber))
                }
            } else if !reportedStraySQL, SQLScript.firstToken(Array(line.utf8), from: 0, to: line.utf8.count) != nil {
                reportedStraySQL = true
                problems.append(
                    MigrationError(
                        .malformedFile, "SQL before the '-- migrate:up' marker; only comments may come before it.",
                        path: path, line: lineNumber))
            }
        }

        var upStep: MigrationStep?
        var downStep: MigrationStep?
        var checksum = ""
        if let up = sections.up {
            let text = sectionText(up.lines)
            checksum = Self.checksum(of: text)
            switch statements(of: up, text: text, path: path) {
            case .success(let statements) where statements.isEmpty:
                problems.append(
                    MigrationError(
                        .missingUpSection,
                        "the '-- migrate:up' section is empty; write the SQL that applies the change.",
                        path: path, line: up.markerLine))
            case .success(let statements):
                upStep = MigrationStep(
                    body: .sql(statements), options: up.options, text: text, firstLine: up.markerLine + 1)
            case .failure(let error): problems.append(error)
            }
        } else {
            problems.append(
                MigrationError(
                    .missingUpSection, "the file has no '-- migrate:up' section.", path: path, line: 1))
        }
        if let down = sections.down {
            let text = sectionText(down.lines)
            switch statements(of: down, text: text, path: path) {
            case .success(let statements) where down.irreversible:
                if !statements.isEmpty {
                    problems.append(
                        MigrationError(
                            .malformedFile,
                            "the '-- migrate:down irreversible' section has SQL; an irreversible migration has none.",
                            path: path, line: statements[0].line))
                }
            case .success(let statements) where statements.isEmpty:
                problems.append(
                    MigrationError(
                        .missingDownSection,
                        "the '-- migrate:down' section is empty; write the SQL that undoes the up section, "
                            + "or mark the migration '-- migrate:down irreversible'.",
                        path: path, line: down.markerLine))
            case .success(let statements):
                downStep = MigrationStep(
                    body: .sql(statements), options: down.options, text: text, firstLine: down.markerLine + 1)
            case .failure(let error): problems.append(error)
            }
        } else {
            problems.append(
                MigrationError(
                    .missingDownSection,
                    "the file has no '-- migrate:down' section; add one that undoes the up section, "
                        + "or mark the migration '-- migrate:down irreversible'.",
                    path: path, line: (lines.lastIndex { !$0.isEmpty } ?? 0) + 1))
        }
        guard problems.isEmpty, let upStep else { return .failure(MigrationErrors(problems: problems)) }
        var migration = Migration(
            version: version, name: name, path: path, up: upStep, down: downStep, checksum: checksum,
            downMarkerLine: sections.down?.markerLine)
        migration.squashes = squashes
        return .success(migration)
    }

    /// Lines with a byte-order mark removed, CRLF turned into LF and trailing white space dropped, so
    /// that an editor or a git setting that changes only those does not change the checksum.
    static func normalizedLines(_ contents: String) -> [String] {
        var text = contents
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        // "\r\n" is one Character in Swift, so split on both forms explicitly.
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { line in
                var line = Substring(line)
                while let last = line.last, last.isWhitespace { line.removeLast() }
                return String(line)
            }
    }

    /// A section's lines as one text, without the blank lines that separate it from the next marker.
    private static func sectionText(_ lines: [String]) -> String {
        var lines = lines[...]
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// The SHA-256 (hex) of a section's normalized text, ignoring blank lines at its start and end.
    ///
    /// SHA-256 comes from swift-crypto (Apple's CryptoKit API; BoringSSL on Linux) rather than a
    /// hand-written one: see "Checksums" in Docs/Migrations.md.
    static func checksum(of text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let body = lines.drop(while: \.isEmpty).reversed().drop(while: \.isEmpty).reversed()
        let digest = SHA256.hash(data: Data(body.joined(separator: "\n").utf8))
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The statements of a section, or an error naming the line of the one that is incomplete.
    private static func statements(
        of section: Section, text: String, path: String
    ) -> Result<[SQLStatement], MigrationError> {
        SQLScript.split(text, firstLine: section.markerLine + 1).mapError { error in
            MigrationError(
                .incompleteStatement,
                "the statement that starts here is not complete: look for an unclosed quote, comment, or a "
                    + "trigger without its END.",
                path: path, line: error.line)
        }
    }

    /// One section while the file is read.
    fileprivate struct Section {
        var markerLine: Int
        var options = MigrationOptions()
        var irreversible = false
        var lines: [String] = []
    }

    /// A line that starts a section, or looks like it tried to.
    private enum Marker {
        case section(isUp: Bool, words: [Substring])
        case malformed(String)

        init?(_ line: String) {
            let trimmed = line.drop(while: \.isWhitespace)
            guard trimmed.hasPrefix("--") else { return nil }
            let rest = trimmed.dropFirst(2).drop(while: \.isWhitespace)
            guard rest.hasPrefix("migrate:") else { return nil }
            let words = rest.split(whereSeparator: \.isWhitespace)
            switch words.first {
            case "migrate:up": self = .section(isUp: true, words: Array(words.dropFirst()))
            case "migrate:down": self = .section(isUp: false, words: Array(words.dropFirst()))
            default: self = .malformed(String(trimmed))
            }
        }
    }
}

/// Several problems found in one file.
struct MigrationErrors: Error {
    let problems: [MigrationError]
}

extension Migration {
    /// Parses one migration file as the migrator reads it, without a database: for editors, linters
    /// and tests. `fileName` is the file's name (`20261123120000_create_authors.sql`), which gives
    /// the version and name; `path` only labels errors.
    ///
    /// Throws a ``MigrationError`` naming the file and line (``MigrationError/Kind/invalidMigrations``
    /// with every problem when there are several).
    public static func parse(fileName: String, contents: String, path: String? = nil) throws -> Migration {
        let label = path ?? fileName
        guard let (version, name) = MigrationFile.parseName(fileName) else {
            throw MigrationError(
                .malformedFileName, "the file name is not <version>_<name>.sql.", path: label)
        }
        switch MigrationFile.parse(path: label, version: version, name: name, contents: contents) {
        case .success(let migration): return migration
        case .failure(let errors):
            throw MigrationError.combining(errors.problems)
                ?? MigrationError(.malformedFile, "the file could not be parsed.", path: label)
        }
    }
}
