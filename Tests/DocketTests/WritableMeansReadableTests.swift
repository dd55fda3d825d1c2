import Docket
import Foundation
import Testing

/// Issue 15's audit of every supported type: a value the encoder accepts must read back as itself
/// (or as an equal value), and a value that could not must be refused at write time with an error
/// naming the model and column, leaving the table unchanged. Never a value that is stored and
/// then breaks every later read of its table.
@Suite struct WritableMeansReadableTests {
    struct Doubles: Model, Equatable {
        var id: Int64?
        var value: Double
        static let tableSQL = "CREATE TABLE doubleses (id INTEGER PRIMARY KEY, value REAL)"
        static let tableName = "doubleses"
    }
    struct Floats: Model, Equatable {
        var id: Int64?
        var value: Float
        static let tableSQL = "CREATE TABLE floatses (id INTEGER PRIMARY KEY, value REAL)"
        static let tableName = "floatses"
    }
    struct Texts: Model, Equatable {
        var id: Int64?
        var value: String
        static let tableSQL = "CREATE TABLE textses (id INTEGER PRIMARY KEY, value TEXT)"
        static let tableName = "textses"
    }
    struct Decimals: Model, Equatable {
        var id: Int64?
        var value: Decimal
        static let tableSQL = "CREATE TABLE decimalses (id INTEGER PRIMARY KEY, value TEXT)"
        static let tableName = "decimalses"
    }
    struct Links: Model, Equatable {
        var id: Int64?
        var value: URL
        static let tableSQL = "CREATE TABLE linkses (id INTEGER PRIMARY KEY, value TEXT)"
        static let tableName = "linkses"
    }
    struct Nested: Codable, Equatable, Sendable {
        var ratio: Double
        var tags: [String]
    }
    struct Documents: Model, Equatable {
        var id: Int64?
        var value: Nested
        static let tableSQL = "CREATE TABLE documentses (id INTEGER PRIMARY KEY, value TEXT)"
        static let tableName = "documentses"
    }
    struct Unsigned: Model, Equatable {
        var id: Int64?
        var value: UInt64
        static let tableSQL = "CREATE TABLE unsignedses (id INTEGER PRIMARY KEY, value INTEGER)"
        static let tableName = "unsignedses"
    }

    /// Writes `model` through a unit of work, then reads the table back: the stored value, or the
    /// error the commit threw (with the table checked empty).
    func roundTrip<M: Model & Equatable>(_ model: M, table sql: String) async throws -> Result<M, any Error> {
        let db = try Database.temporary()
        defer { db.close() }
        try await db.write { try $0.execute(sql) }
        do {
            try await withUnitOfWork(db) { uow in uow.insert(model) }
        } catch {
            #expect(try await db.read { try M.fetchCount($0) } == 0, "a refused value left a row")
            return .failure(error)
        }
        let rows = try await db.read { try M.fetchAll($0) }
        #expect(rows.count == 1)
        return .success(try #require(rows.first))
    }

    @Test(arguments: [
        Double.infinity, -Double.infinity, Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude,
        Double.leastNonzeroMagnitude, -0.0, 0.1, 1e308,
    ])
    func givenAnExtremeDouble_whenStored_thenItReadsBackExactly(value: Double) async throws {
        let stored = try await roundTrip(Doubles(id: nil, value: value), table: Doubles.tableSQL).get()
        #expect(stored.value == value)
        // SQLite keeps a whole-number REAL as an integer on disk, so -0.0 reads back as +0.0: an equal
        // value (-0.0 == 0.0), only the sign of zero is not kept (Docs/Models.md).
        #expect(stored.value.sign == value.sign || value == 0)
    }

    @Test(arguments: [Float.infinity, -Float.infinity, Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude])
    func givenAnExtremeFloat_whenStored_thenItReadsBackExactly(value: Float) async throws {
        let stored = try await roundTrip(Floats(id: nil, value: value), table: Floats.tableSQL).get()
        #expect(stored.value == value)
    }

    @Test func givenNaN_whenStoredAsDoubleOrFloat_thenItIsRefusedNamingTheColumn() async throws {
        for result in [
            try await roundTrip(Doubles(id: nil, value: .nan), table: Doubles.tableSQL).map { _ in () },
            try await roundTrip(Floats(id: nil, value: .nan), table: Floats.tableSQL).map { _ in () },
        ] {
            guard case .failure(let error) = result else {
                Issue.record("NaN was stored")
                continue
            }
            #expect("\(error)".contains("value"), "\(error)")
            #expect("\(error)".contains("NaN"), "\(error)")
        }
    }

    @Test(arguments: [
        "", "a\u{0}b", "\u{0}", "emoji 👩‍👩‍👧 and combining e\u{301}", String(repeating: "x", count: 100_000),
        "line\nbreak\r\nand tab\t", "'quotes' \"and\" \\backslashes",
    ])
    func givenAnUnusualString_whenStored_thenItReadsBackExactly(value: String) async throws {
        let stored = try await roundTrip(Texts(id: nil, value: value), table: Texts.tableSQL).get()
        #expect(stored.value == value)
        #expect(stored.value.utf8.count == value.utf8.count)
    }

    @Test(arguments: [
        Decimal.greatestFiniteMagnitude, Decimal.leastFiniteMagnitude, Decimal.leastNonzeroMagnitude,
        Decimal(string: "-0.000000000000000000000000000001")!, Decimal(string: "12345678901234567890.123456789")!,
        Decimal.zero,
    ])
    func givenAnExtremeDecimal_whenStored_thenItReadsBackExactly(value: Decimal) async throws {
        let stored = try await roundTrip(Decimals(id: nil, value: value), table: Decimals.tableSQL).get()
        #expect(stored.value == value)
    }

    @Test(arguments: [
        "https://example.com/a%20b?q=%C3%A9#frag", "file:///tmp/with%20space", "mailto:someone@example.com",
        "relative/path", "urn:isbn:0451450523",
    ])
    func givenAURL_whenStored_thenItReadsBackAsTheSameURL(text: String) async throws {
        let url = try #require(URL(string: text))
        let stored = try await roundTrip(Links(id: nil, value: url), table: Links.tableSQL).get()
        #expect(stored.value.absoluteString == url.absoluteString)
    }

    @Test func givenANestedValueHoldingNaN_whenStored_thenItIsRefusedNotWrittenAsUnreadableJSON() async throws {
        let result = try await roundTrip(
            Documents(id: nil, value: Nested(ratio: .nan, tags: [])), table: Documents.tableSQL)
        guard case .failure(let error) = result else {
            Issue.record("a nested NaN was stored")
            return
        }
        #expect("\(error)".contains("value"), "\(error)")
        let fine = try await roundTrip(
            Documents(id: nil, value: Nested(ratio: 0.5, tags: ["a", "\u{0}"])), table: Documents.tableSQL)
        #expect(try fine.get().value == Nested(ratio: 0.5, tags: ["a", "\u{0}"]))
    }

    @Test func givenAUInt64AboveInt64Max_whenStored_thenItIsRefusedNamingTheColumn() async throws {
        let result = try await roundTrip(Unsigned(id: nil, value: UInt64(Int64.max) + 1), table: Unsigned.tableSQL)
        guard case .failure(let error) = result else {
            Issue.record("a UInt64 above Int64.max was stored")
            return
        }
        #expect("\(error)".contains("value"), "\(error)")
        #expect(
            try await roundTrip(Unsigned(id: nil, value: UInt64(Int64.max)), table: Unsigned.tableSQL).get().value
                == UInt64(Int64.max))
    }
}
