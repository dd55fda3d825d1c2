import CSQLite
import Docket

/// One SQL statement of a migration, and the line of the file where it starts.
public struct SQLStatement: Sendable, Hashable {
    /// The statement's text, including comments before it and its closing semicolon.
    public let sql: String
    /// The 1-based line of the statement's first token in its file.
    public let line: Int

    /// Creates a statement.
    public init(sql: String, line: Int) {
        self.sql = sql
        self.line = line
    }
}

/// Splits SQL text into statements with SQLite's own tokenizer.
///
/// A statement ends at a semicolon for which `sqlite3_complete` says the text so far is complete
/// (https://sqlite.org/c3ref/complete.html). That tokenizer knows string literals, quoted names,
/// comments and `CREATE TRIGGER … BEGIN … END;`, so a semicolon inside any of them does not end a
/// statement. Preparing the statements instead (`sqlite3_prepare_v2` and its tail pointer) would
/// also split them, but it needs the tables of statement 2 to exist before statement 1 has run.
enum SQLScript {
    /// The statements of `text`, whose first line is line `firstLine` of its file.
    ///
    /// A last statement without its semicolon is accepted. Text that never becomes complete
    /// (an unclosed quote, comment or trigger body) is an error naming the line it starts on.
    static func split(_ text: String, firstLine: Int = 1) -> Result<[SQLStatement], SplitError> {
        let bytes = Array(text.utf8)
        var statements: [SQLStatement] = []
        var start = 0
        var line = firstLine  // line of `bytes[start]`
        var candidate: [CChar] = []
        for index in bytes.indices where bytes[index] == UInt8(ascii: ";") {
            candidate.removeAll(keepingCapacity: true)
            candidate.append(contentsOf: bytes[start...index].map { CChar(bitPattern: $0) })
            candidate.append(0)
            guard sqlite3_complete(candidate) != 0 else { continue }
            if let first = firstToken(bytes, from: start, to: index) {
                statements.append(
                    SQLStatement(
                        sql: trimmed(bytes, from: start, to: index + 1),
                        line: line + newlines(bytes, from: start, to: first)))
            }
            line += newlines(bytes, from: start, to: index + 1)
            start = index + 1
        }
        guard let first = firstToken(bytes, from: start, to: bytes.count) else { return .success(statements) }
        let statementLine = line + newlines(bytes, from: start, to: first)
        // The last statement may omit its semicolon, as in the sqlite3 shell; it must still be complete.
        candidate = bytes[start...].map { CChar(bitPattern: $0) } + Array(";\n".utf8CString)
        guard sqlite3_complete(candidate) != 0 else { return .failure(SplitError(line: statementLine)) }
        statements.append(SQLStatement(sql: trimmed(bytes, from: start, to: bytes.count), line: statementLine))
        return .success(statements)
    }

    /// The incomplete statement found by ``split(_:firstLine:)``.
    struct SplitError: Error, Equatable {
        /// The line where the incomplete statement starts.
        let line: Int
    }

    /// The offset of the first byte in `from..<to` that is neither white space nor inside a comment,
    /// and is not a bare semicolon (an empty statement); `nil` if there is none.
    static func firstToken(_ bytes: [UInt8], from: Int, to end: Int) -> Int? {
        var i = from
        while i < end {
            let byte = bytes[i]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: ";") || byte == 0x0B || byte == 0x0C
            {
                i += 1
            } else if byte == UInt8(ascii: "-"), i + 1 < end, bytes[i + 1] == UInt8(ascii: "-") {
                while i < end && bytes[i] != UInt8(ascii: "\n") { i += 1 }
            } else if byte == UInt8(ascii: "/"), i + 1 < end, bytes[i + 1] == UInt8(ascii: "*") {
                i += 2
                while i < end && !(bytes[i] == UInt8(ascii: "*") && i + 1 < end && bytes[i + 1] == UInt8(ascii: "/")) {
                    i += 1
                }
                i += 2
            } else {
                return i
            }
        }
        return nil
    }

    private static func newlines(_ bytes: [UInt8], from: Int, to end: Int) -> Int {
        var count = 0
        for i in from..<min(end, bytes.count) where bytes[i] == UInt8(ascii: "\n") { count += 1 }
        return count
    }

    private static func trimmed(_ bytes: [UInt8], from: Int, to end: Int) -> String {
        let text = String(decoding: bytes[from..<end], as: UTF8.self)
        return String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
