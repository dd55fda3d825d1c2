import Docket
import DocketPostgres
import Foundation
import Logging
import Testing

/// DocketPostgres on a real PostgreSQL server (started by ``PostgresServer``): values, the
/// unit of work's statements as the shared dialect writes them, errors mapped to Docket's, and
/// transactions.
@Suite(.enabled(if: PostgresServer.enabled)) struct PostgresBackendTests {
    static let schema = """
        CREATE TABLE customers (
            id BIGSERIAL PRIMARY KEY,
            email TEXT NOT NULL CONSTRAINT customers_email_key UNIQUE,
            name TEXT,
            credit NUMERIC(12, 2) CONSTRAINT credit_not_negative CHECK (credit >= 0),
            version INTEGER NOT NULL DEFAULT 0)
        """
    static let orders = """
        CREATE TABLE orders (
            id BIGSERIAL PRIMARY KEY,
            customer_id BIGINT NOT NULL CONSTRAINT orders_customer_fk REFERENCES customers(id),
            placed_at TIMESTAMPTZ NOT NULL)
        """

    @Test func givenEachKindOfValue_whenWrittenAndReadBack_thenItRoundTrips() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(
                """
                CREATE TABLE v (i BIGINT, small INTEGER, r DOUBLE PRECISION, t TEXT, b BYTEA, flag BOOLEAN,
                at TIMESTAMPTZ, amount NUMERIC(20, 4), u UUID, nothing TEXT)
                """)
            let bytes = Data([0, 1, 0xFE, 0xFF])
            let values: [DatabaseValue] = [
                .integer(Int64.min), .integer(-7), .real(0.1), .text("ünïcode ' \" \\ text"), .blob(bytes),
                .integer(1), .text("2024-05-01T12:30:00.250Z"), .text("12345678901234.5678"),
                .text("1e3a8a2c-0a5b-4f5e-9a55-0c1d2e3f4a5b"), .null,
            ]
            let sql = "INSERT INTO v VALUES (" + (1...values.count).map { "$\($0)" }.joined(separator: ", ") + ")"
            #expect(try await db.execute(sql, values) == 1)
            let row = try #require(try await db.fetchAll("SELECT * FROM v").first)
            #expect(row.columns == ["i", "small", "r", "t", "b", "flag", "at", "amount", "u", "nothing"])
            #expect(row.values == values)
        }
    }

    @Test func givenAnUnreadableType_whenFetched_thenTheErrorNamesTheColumnAndTheCast() async throws {
        try await PostgresServer.withDatabase { db in
            await #expect {
                try await db.fetchAll("SELECT point(1, 2) AS spot")
            } throws: { error in
                let text = "\(error)"
                return text.contains("column spot") && text.contains("spot::text")
            }
        }
    }

    @Test func givenSeveralRows_whenInsertedByOneDialectStatement_thenKeysComeBackInOrder() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            let dialect = db.dialect
            let sql = dialect.insert("customers", columns: ["email", "name"], rows: 3, returning: ["id"])
            #expect(sql.hasSuffix("VALUES ($1, $2), ($3, $4), ($5, $6) RETURNING \"id\""))
            let keys = try await db.fetchAll(
                sql, [.text("a@x"), .text("A"), .text("b@x"), .null, .text("c@x"), .text("C")]
            ).map(\.values[0])
            #expect(keys == [.integer(1), .integer(2), .integer(3)])
            let names = try await db.fetchAll("SELECT name FROM customers ORDER BY id").map(\.values[0])
            #expect(names == [.text("A"), .null, .text("C")])
        }
    }

    @Test func givenACompareAndSetUpdate_whenTheLoadedValueIsNull_thenItMatchesAndAStaleOneDoesNot() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            try await db.execute("INSERT INTO customers (email) VALUES ('a@x')")
            // Loaded name: NULL. The update checks it, NULL-safe: `"name" IS NOT DISTINCT FROM $3`.
            let update = db.dialect.update("customers", set: ["name"], key: "id", version: nil, compare: ["name"])
            #expect(try await db.execute(update, [.text("Ann"), .integer(1), .null]) == 1)
            // A second writer that also loaded NULL now matches nothing: a stale write.
            #expect(try await db.execute(update, [.text("Bob"), .integer(1), .null]) == 0)
            #expect(try await db.scalar("SELECT name FROM customers") == .text("Ann"))
        }
    }

    @Test func givenAVersionedUpdateAndDelete_whenTheVersionMovedOn_thenNothingChanges() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            try await db.execute("INSERT INTO customers (email) VALUES ('a@x')")
            let update = db.dialect.update("customers", set: ["name"], key: "id", version: "version")
            // set name, new version, key, expected version
            #expect(try await db.execute(update, [.text("Ann"), .integer(1), .integer(1), .integer(0)]) == 1)
            #expect(try await db.execute(update, [.text("Bob"), .integer(1), .integer(1), .integer(0)]) == 0)
            let delete = db.dialect.delete("customers", key: "id", version: "version")
            #expect(try await db.execute(delete, [.integer(1), .integer(0)]) == 0)
            #expect(try await db.execute(delete, [.integer(1), .integer(1)]) == 1)
        }
    }

    @Test func givenAnUpsert_whenTheUniqueValueExists_thenTheRowIsUpdatedAndItsKeyReturned() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            try await db.execute("INSERT INTO customers (email, name) VALUES ('a@x', 'old')")
            let sql = db.dialect.upsert(
                "customers", columns: ["email", "name"], conflict: ["email"], key: "id", doNothing: false)
            let key = try await db.fetchAll(sql, [.text("a@x"), .text("new")]).first?.values.first
            #expect(key == .integer(1))
            #expect(try await db.scalar("SELECT name FROM customers WHERE id = 1") == .text("new"))
        }
    }

    @Test func givenEachConstraint_whenViolated_thenTheErrorNamesItsKindTableColumnAndName() async throws {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            try await db.execute(Self.orders)
            try await db.execute("INSERT INTO customers (email) VALUES ('a@x')")
            func failure(_ sql: String) async -> DatabaseError? {
                do {
                    try await db.execute(sql)
                    return nil
                } catch {
                    return error as? DatabaseError
                }
            }
            let unique = try #require(await failure("INSERT INTO customers (email) VALUES ('a@x')"))
            #expect(unique.sqlState == "23505")
            #expect(unique.constraint?.kind == .unique)
            #expect(unique.constraint?.table == "customers")
            #expect(unique.constraint?.columns == ["email"])
            #expect(unique.constraint?.name == "customers_email_key")
            #expect("\(unique)".contains("(SQLSTATE 23505)"))

            let foreign = try #require(
                await failure("INSERT INTO orders (customer_id, placed_at) VALUES (42, now())"))
            #expect(foreign.constraint?.kind == .foreignKey)
            #expect(foreign.constraint?.table == "orders")
            #expect(foreign.constraint?.columns == ["customer_id"])
            #expect(foreign.constraint?.name == "orders_customer_fk")

            let notNull = try #require(await failure("INSERT INTO customers (email) VALUES (NULL)"))
            #expect(notNull.constraint?.kind == .notNull)
            #expect(notNull.constraint?.table == "customers")
            #expect(notNull.constraint?.columns == ["email"])

            let check = try #require(await failure("INSERT INTO customers (email, credit) VALUES ('b@x', -1)"))
            #expect(check.constraint?.kind == .check)
            #expect(check.constraint?.name == "credit_not_negative")

            // Nothing of the failed statements landed.
            #expect(try await db.scalar("SELECT count(*) FROM customers") == .integer(1))
            #expect(try await db.scalar("SELECT count(*) FROM orders") == .integer(0))
        }
    }

    @Test func givenTwoSerializableTransactionsThatConflict_whenBothCommit_thenOneGetsARetryableConflict()
        async throws
    {
        try await PostgresServer.withDatabase { db in
            try await db.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
            try await db.execute("INSERT INTO counters VALUES (1, 0)")
            let firstRead = AsyncStream<Void>.makeStream()
            let secondRead = AsyncStream<Void>.makeStream()
            func increment(signal: AsyncStream<Void>.Continuation, wait: AsyncStream<Void>) async -> (any Error)? {
                do {
                    try await db.transaction { tx in
                        try await tx.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        let value = try await tx.fetchAll("SELECT value FROM counters WHERE id = 1")[0].values[0]
                        signal.yield()
                        for await _ in wait { break }
                        try await tx.execute(
                            "UPDATE counters SET value = $1 WHERE id = 1", [.integer((value.integerValue ?? 0) + 1)])
                    }
                    return nil
                } catch {
                    return error
                }
            }
            async let a = increment(signal: firstRead.continuation, wait: secondRead.stream)
            async let b = increment(signal: secondRead.continuation, wait: firstRead.stream)
            let errors = await [a, b].compactMap { $0 }
            #expect(errors.count == 1)
            let error = try #require(errors.first as? DatabaseError)
            #expect(["40001", "40P01"].contains(error.sqlState))
            #expect(error.isRetryableConflict)
            #expect(RetryPolicy.isConflict(error))
            // The increment that committed is there; the other is not.
            #expect(try await db.scalar("SELECT value FROM counters") == .integer(1))
        }
    }

    @Test func givenATransactionThatThrows_whenItEnds_thenNothingLandsAndASavepointUndoesOnlyItself()
        async throws
    {
        try await PostgresServer.withDatabase { db in
            try await db.execute(Self.schema)
            struct Stop: Error {}
            await #expect(throws: Stop.self) {
                try await db.transaction { tx in
                    try await tx.execute("INSERT INTO customers (email) VALUES ('gone@x')")
                    throw Stop()
                }
            }
            #expect(try await db.scalar("SELECT count(*) FROM customers") == .integer(0))
            try await db.transaction { tx in
                try await tx.execute("INSERT INTO customers (email) VALUES ('kept@x')")
                _ = try? await tx.savepoint {
                    try await tx.execute("INSERT INTO customers (email) VALUES ('nested@x')")
                    // A failed statement inside the savepoint: only the savepoint is undone.
                    try await tx.execute("INSERT INTO customers (email) VALUES ('kept@x')")
                }
                try await tx.execute("INSERT INTO customers (email) VALUES ('after@x')")
            }
            let emails = try await db.fetchAll("SELECT email FROM customers ORDER BY email").map(\.values[0])
            #expect(emails == [.text("after@x"), .text("kept@x")])
        }
    }

    @Test func givenTooManyParameters_whenRun_thenTheErrorSaysSoAndNamesTheLimit() async throws {
        try await PostgresServer.withDatabase { db in
            let values = [DatabaseValue](repeating: .integer(1), count: 65_536)
            let sql = "SELECT " + (1...values.count).map { "$\($0)::int" }.joined(separator: " + ")
            await #expect {
                try await db.fetchAll(sql, values)
            } throws: { error in
                (error as? DatabaseError)?.message.contains("65,535") == true
            }
        }
    }

    @Test func givenAServerThatIsNotThere_whenOpened_thenTheErrorNamesTheURLWithoutItsPassword() async throws {
        let base = try PostgresServer.started.get()
        var url = base
        url.port = base.port == 65_535 ? 65_534 : base.port + 1
        url.password = "secret"
        await #expect {
            // postgres-nio logs each refused connection at info: quiet here, the error says it all.
            var quiet = Logger(label: "docket.postgres.test")
            quiet.logLevel = .critical
            return try await PostgresBackend.open(url, timeout: .seconds(2), logger: quiet)
        } throws: { error in
            let text = "\(error)"
            return error is PostgresOpenError && text.contains("127.0.0.1:\(url.port)") && !text.contains("secret")
        }
    }
}
