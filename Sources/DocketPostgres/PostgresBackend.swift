#if Postgres
    import Docket
    import Foundation
    import Logging
    import PostgresNIO
    import ServiceLifecycle
    import Synchronization

    /// A PostgreSQL database, reached through a pool of connections (postgres-nio's `PostgresClient`).
    ///
    /// In a service group it is a `Service`: add it beside the server, and the group runs and stops
    /// it. Without one, ``open(_:logger:)`` runs the pool in a task of its own until ``close()``.
    ///
    /// ```swift
    /// let db = try await PostgresBackend.open("postgres://app@localhost:5432/app?sslmode=disable")
    /// try await db.execute("INSERT INTO authors (name) VALUES ($1)", [.text("Ursula")])
    /// let rows = try await db.fetchAll("SELECT id, name FROM authors ORDER BY id")
    /// await db.close()
    /// ```
    ///
    /// Statements take `$1, $2, …` parameters as ``DatabaseValue``s, sent as untyped text so that the
    /// server reads each as the type of the place it is used in; results come back as ``Row``s, as on
    /// SQLite. Errors are ``DatabaseError``s carrying the SQLSTATE (`sqlState`), the SQLite code of
    /// the same kind, and the table, column and constraint the server names.
    public final class PostgresBackend: Service, Sendable {
        public let url: PostgresURL
        public let client: PostgresClient
        public let dialect = PostgresDialect()
        let logger: Logger
        /// The task running the pool, when ``open(_:logger:)`` started it.
        private let runner = Mutex<Task<Void, Never>?>(nil)

        /// A backend for `url`. Nothing connects until the pool runs (``run()`` or ``open(_:logger:)``).
        public init(url: PostgresURL, logger: Logger = Logger(label: "docket.postgres")) {
            self.url = url
            self.logger = logger
            client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
        }

        /// Runs the pool until the task is cancelled or the service group shuts down.
        public func run() async {
            await client.run()
        }

        /// Opens `url` and runs its pool in a task of its own, after checking that the server answers
        /// (`SELECT 1`) within `timeout`, so that a wrong host, port, password or database fails here,
        /// naming the URL (password hidden). ``close()`` stops it.
        public static func open(
            _ url: String, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "docket.postgres")
        ) async throws -> PostgresBackend {
            try await open(PostgresURL(url), timeout: timeout, logger: logger)
        }

        public static func open(
            _ url: PostgresURL, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "docket.postgres")
        ) async throws -> PostgresBackend {
            let backend = PostgresBackend(url: url, logger: logger)
            let client = backend.client
            backend.runner.withLock { $0 = Task { await client.run() } }
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try await backend.fetchAll("SELECT 1") }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        // The pool keeps retrying a server that refuses: closing it ends the wait.
                        await backend.close()
                        throw PostgresOpenTimeout(timeout: timeout)
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                await backend.close()
                throw PostgresOpenError(url: url, underlying: error)
            }
            return backend
        }

        /// Stops the pool ``open(_:logger:)`` started, closing its connections. Statements still
        /// running fail; a backend run by a service group is stopped by the group instead.
        public func close() async {
            guard
                let task = runner.withLock({ task in
                    defer { task = nil }
                    return task
                })
            else { return }
            task.cancel()
            await task.value
        }

        /// Runs one statement outside any transaction of yours (the server commits it on its own);
        /// returns the rows it changed.
        @discardableResult
        public func execute(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> Int {
            try await client.withConnection { try await $0.docketExecute(sql, arguments, logger: logger) }
        }

        /// Runs a query and returns every row.
        public func fetchAll(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> [Row] {
            try await client.withConnection { try await $0.docketFetchAll(sql, arguments, logger: logger) }
        }

        /// The first column of the first row, or `.null` when there is none.
        public func scalar(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> DatabaseValue {
            try await fetchAll(sql, arguments).first?.values.first ?? .null
        }

        /// Runs `body` in one transaction on one connection of the pool: `COMMIT` when it returns,
        /// `ROLLBACK` when it throws (and then the error is rethrown).
        public func transaction<R: Sendable>(_ body: (PostgresTransaction) async throws -> R) async throws -> R {
            try await client.withConnection { connection in
                let transaction = PostgresTransaction(connection: connection, logger: logger)
                try await transaction.execute("BEGIN")
                do {
                    let value = try await body(transaction)
                    try await transaction.execute("COMMIT")
                    return value
                } catch {
                    _ = try? await transaction.execute("ROLLBACK")
                    throw error
                }
            }
        }
    }

    /// One transaction's connection, lent to the body of ``PostgresBackend/transaction(_:)``: valid
    /// only inside it.
    public struct PostgresTransaction: Sendable {
        let connection: PostgresConnection
        let logger: Logger

        @discardableResult
        public func execute(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> Int {
            try await connection.docketExecute(sql, arguments, logger: logger)
        }

        public func fetchAll(_ sql: String, _ arguments: [DatabaseValue] = []) async throws -> [Row] {
            try await connection.docketFetchAll(sql, arguments, logger: logger)
        }

        /// Runs `body` inside `SAVEPOINT`: released when it returns, rolled back to (and the error
        /// rethrown) when it throws, leaving the rest of the transaction as it was.
        public func savepoint<R: Sendable>(_ body: () async throws -> R) async throws -> R {
            try await execute("SAVEPOINT docket_nested")
            do {
                let value = try await body()
                try await execute("RELEASE SAVEPOINT docket_nested")
                return value
            } catch {
                _ = try? await execute("ROLLBACK TO SAVEPOINT docket_nested")
                _ = try? await execute("RELEASE SAVEPOINT docket_nested")
                throw error
            }
        }
    }

    /// No connection to the server within the time ``PostgresBackend/open(_:timeout:logger:)`` allows.
    public struct PostgresOpenTimeout: Error, Sendable, CustomStringConvertible {
        public let timeout: Duration
        public var description: String {
            "no connection within \(timeout) (is the server running there, and does it accept this user and database?)"
        }
    }

    /// A PostgreSQL server that could not be reached or would not let Docket in.
    public struct PostgresOpenError: Error, Sendable, CustomStringConvertible {
        public let url: PostgresURL
        public let underlying: any Error
        public var description: String { "cannot open PostgreSQL database \(url): \(underlying)" }
    }

    extension PostgresConnection {
        /// Runs one statement, logged at `.debug`, with PostgreSQL's errors mapped to Docket's.
        private func docketQuery(_ sql: String, _ arguments: [DatabaseValue], logger: Logger) async throws
            -> PostgresQueryResult
        {
            logger.debug("\(sql)")
            do {
                let future: EventLoopFuture<PostgresQueryResult> = query(
                    PostgresQuery(unsafeSQL: sql, binds: PostgresBindings(arguments)), logger: logger)
                return try await future.get()
            } catch {
                throw DatabaseError.mapping(error, sql: sql)
            }
        }

        func docketExecute(_ sql: String, _ arguments: [DatabaseValue], logger: Logger) async throws -> Int {
            try await docketQuery(sql, arguments, logger: logger).metadata.rows ?? 0
        }

        func docketFetchAll(_ sql: String, _ arguments: [DatabaseValue], logger: Logger) async throws -> [Row] {
            let result = try await docketQuery(sql, arguments, logger: logger)
            guard let first = result.rows.first else { return [] }
            let columns = first.map(\.columnName)
            return try result.rows.map { row in
                Row(columns: columns, values: try row.map { try DatabaseValue($0, sql: sql) })
            }
        }
    }
#endif
