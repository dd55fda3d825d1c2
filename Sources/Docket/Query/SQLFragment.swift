import CSQLite

/// Checks the raw-SQL fragments the query API splices into its SELECT (`filter`, `order`): a
/// fragment is one expression. A `;` would end the statement (and SQLite would run only the first
/// part), and a `--` comment or an unterminated `/*` or quote would hide the clauses after it, so
/// either is refused before anything runs.
enum SQLFragment {
    /// Why `fragment` cannot be spliced into a statement, or `nil` when it can.
    static func problem(_ fragment: String) -> String? {
        var quote: UInt8?
        var previous: UInt8 = 0
        var inComment = false
        for byte in fragment.utf8 {
            if inComment {
                if previous == UInt8(ascii: "*"), byte == UInt8(ascii: "/") {
                    inComment = false
                    previous = 0
                    continue
                }
                previous = byte
                continue
            }
            if let open = quote {
                let close = open == UInt8(ascii: "[") ? UInt8(ascii: "]") : open
                if byte == close { quote = nil }
                previous = byte
                continue
            }
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"), UInt8(ascii: "["):
                quote = byte
            case UInt8(ascii: ";"):
                return "it holds `;`, which would end the statement"
            case UInt8(ascii: "-") where previous == UInt8(ascii: "-"):
                return "it holds a `--` comment, which would hide the clauses after it"
            case UInt8(ascii: "*") where previous == UInt8(ascii: "/"):
                inComment = true
                previous = 0
                continue
            default:
                break
            }
            previous = byte
        }
        if inComment { return "it holds an unterminated `/*` comment" }
        if quote != nil { return "it holds an unterminated quote" }
        return nil
    }

    /// The error for a fragment with a `problem`.
    static func error(_ fragment: String, clause: String, problem: String) -> DatabaseError {
        DatabaseError(
            resultCode: SQLITE_MISUSE,
            message: "the \(clause) fragment `\(fragment)` cannot be part of a query: \(problem); a fragment is one "
                + "expression. Nothing was run")
    }
}
