#if Postgres
    import Docket
    import Foundation
    import PostgresNIO

    extension DatabaseError {
        /// Docket's error for a PostgreSQL failure, mapped once, here: the SQLSTATE, the SQLite code of
        /// the same kind (so `error.constraint?.kind == .unique` holds on both backends), the server's
        /// message and detail, and the table, column and constraint the server names.
        ///
        /// | SQLSTATE | kind |
        /// |---|---|
        /// | 23505 | `.unique` |
        /// | 23503 | `.foreignKey` |
        /// | 23502 | `.notNull` |
        /// | 23514 | `.check` |
        /// | 40001, 40P01 | retryable conflict (`isRetryableConflict`) |
        init(_ error: PSQLError, sql: String) {
            guard let info = error.serverInfo, let state = info[.sqlState] else {
                // Not the server's answer: the client refused the statement, or the connection failed.
                switch error.code {
                case .tooManyParameters:
                    self.init(
                        sqlState: "54023",
                        message: "the statement binds more than 65,535 parameters, PostgreSQL's limit",
                        sql: sql)
                case .queryCancelled:
                    self.init(sqlState: "57014", message: "the statement was cancelled", sql: sql)
                default:
                    let cause = error.underlying.map { ": \($0)" } ?? ""
                    self.init(
                        sqlState: "08006", message: "PostgreSQL connection failed (\(error.code))\(cause)", sql: sql)
                }
                return
            }
            let kind: ConstraintViolation.Kind? =
                switch state {
                case "23505": .unique
                case "23503": .foreignKey
                case "23502": .notNull
                case "23514": .check
                case let s where s.hasPrefix("23"): .other
                default: nil
                }
            var message = info[.message] ?? "PostgreSQL error \(state)"
            if let detail = info[.detail] { message += ". " + detail }
            self.init(sqlState: state, message: message, constraint: kind, sql: sql)
            table = info[.tableName]
            constraintName = info[.constraintName]
            if let column = info[.columnName] {
                columns = [column]
            } else if kind == .unique || kind == .foreignKey, let detail = info[.detail] {
                // "Key (email)=(a@example.com) already exists." names the columns.
                columns = Self.keyColumns(detail)
            }
        }

        /// The columns of a detail like `Key (a, b)=(1, 2) already exists.`
        static func keyColumns(_ detail: String) -> [String] {
            guard detail.hasPrefix("Key ("), let close = detail.firstIndex(of: ")") else { return [] }
            let list = detail[detail.index(detail.startIndex, offsetBy: 5)..<close]
            return list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }

        /// Any error from postgres-nio as Docket's: a `PSQLError` mapped, anything else wrapped.
        static func mapping(_ error: any Error, sql: String) -> any Error {
            if let error = error as? PSQLError { return DatabaseError(error, sql: sql) }
            return error
        }
    }
#endif
