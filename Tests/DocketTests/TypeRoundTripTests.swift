import Docket
import Foundation
import Testing

/// Every supported property type, written through the model encoder into a real database file and
/// read back through the model decoder, with the stored representation checked in SQL.
@Suite struct TypeRoundTripTests {
    // MARK: Integers

    struct Integers: Model, Equatable {
        var id: Int64?
        var i8: Int8
        var i16: Int16
        var i32: Int32
        var i64: Int64
        var i: Int
        var u8: UInt8
        var u16: UInt16
        var u32: UInt32
        var u64: UInt64
        var u: UInt

        // The default would be "integerses": the plural rule only appends, so plural type names override it.
        static let tableName = "integers"
        static let tableSQL = """
            CREATE TABLE integers (id INTEGER PRIMARY KEY, i8 INTEGER, i16 INTEGER, i32 INTEGER, i64 INTEGER,
            i INTEGER, u8 INTEGER, u16 INTEGER, u32 INTEGER, u64 INTEGER, u INTEGER)
            """
    }

    @Test func givenEveryIntegerWidth_whenStoringItsMinimumAndMaximum_thenTheyReadBackExactly() async throws {
        let db = try Database.temporary()
        let minimums = Integers(
            id: nil, i8: .min, i16: .min, i32: .min, i64: .min, i: .min, u8: .min, u16: .min, u32: .min, u64: .min,
            u: .min)
        // UInt64 and UInt stop at Int64.max: SQLite's INTEGER is a signed 64-bit integer.
        let maximums = Integers(
            id: nil, i8: .max, i16: .max, i32: .max, i64: .max, i: .max, u8: .max, u16: .max, u32: .max,
            u64: UInt64(Int64.max), u: UInt(Int64.max))
        try await db.write { db in
            try db.execute(Integers.tableSQL)
            try db.insertModel(minimums)
            try db.insertModel(maximums)
        }
        let (rows, raw) = try await db.read { db in
            (
                try Integers.all().order("id").fetchAll(db),
                try db.fetchAll("SELECT typeof(i64), i64, u64 FROM integers ORDER BY id")
            )
        }
        var expectedMinimums = minimums
        expectedMinimums.id = 1
        var expectedMaximums = maximums
        expectedMaximums.id = 2
        #expect(rows == [expectedMinimums, expectedMaximums])
        #expect(raw[0].values == [.text("integer"), .integer(Int64.min), .integer(0)])
        #expect(raw[1].values == [.text("integer"), .integer(Int64.max), .integer(Int64.max)])
    }

    // MARK: Floating point and Bool

    struct Numbers: Model, Equatable {
        var id: Int64?
        var double: Double
        var float: Float
        var flag: Bool
        static let tableName = "numbers"
    }

    @Test(arguments: [
        (0.1, Float(0.1)), (-0.5, Float(-0.5)), (Double.greatestFiniteMagnitude, Float.greatestFiniteMagnitude),
        (Double.leastNonzeroMagnitude, Float.leastNonzeroMagnitude), (Double.infinity, Float.infinity),
        (-Double.infinity, -Float.infinity),
    ])
    func givenADoubleAndAFloat_whenStored_thenTheyReadBackBitForBit(double: Double, float: Float) async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute("CREATE TABLE numbers (id INTEGER PRIMARY KEY, double REAL, float REAL, flag INTEGER)")
            try db.insertModel(Numbers(id: nil, double: double, float: float, flag: true))
        }
        let (back, storage) = try await db.read { db in
            (try Numbers.find(1, in: db), try db.fetchOne("SELECT typeof(double), typeof(float) FROM numbers"))
        }
        #expect(back?.double.bitPattern == double.bitPattern)
        #expect(back?.float.bitPattern == float.bitPattern)
        #expect(storage?.values == [.text("real"), .text("real")])
    }

    @Test func givenBools_whenStored_thenTheyAreIntegersOneAndZero() async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute("CREATE TABLE numbers (id INTEGER PRIMARY KEY, double REAL, float REAL, flag INTEGER)")
            try db.insertModel(Numbers(id: nil, double: 1, float: 1, flag: true))
            try db.insertModel(Numbers(id: nil, double: 1, float: 1, flag: false))
        }
        let (flags, raw) = try await db.read { db in
            (
                try Numbers.all().order("id").fetchAll(db).map(\.flag),
                try db.fetchAll("SELECT flag FROM numbers ORDER BY id").map(\.values)
            )
        }
        #expect(flags == [true, false])
        #expect(raw == [[.integer(1)], [.integer(0)]])
    }

    // MARK: Text and blobs

    struct Note: Model, Equatable {
        var id: Int64?
        var text: String
        var bytes: Data
    }

    @Test(arguments: [
        "", "a\u{0}b", "\u{0}", "👩‍👩‍👧‍👦 family", "e\u{301} combining", "é precomposed", "שלום עולם", "日本語",
        "'); DROP TABLE notes; --", String(repeating: "x", count: 100_000),
    ])
    func givenAString_whenStored_thenEveryUTF8ByteReadsBack(text: String) async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, bytes BLOB NOT NULL)")
            try db.insertModel(Note(id: nil, text: text, bytes: Data()))
        }
        let (back, raw) = try await db.read { db in
            (
                try Note.find(1, in: db),
                try db.fetchOne("SELECT typeof(text), length(CAST(text AS BLOB)) FROM notes")
            )
        }
        // Compare bytes: Swift's == treats "e\u{301}" and "é" as equal.
        #expect(back.map { Array($0.text.utf8) } == Array(text.utf8))
        #expect(raw?.values == [.text("text"), .integer(Int64(text.utf8.count))])
    }

    @Test func givenAnEmptyAndAOneMegabyteBlob_whenStored_thenTheyReadBackAsBlobs() async throws {
        let db = try Database.temporary()
        let megabyte = Data((0..<1_048_576).map { _ in UInt8.random(in: 0...255) })
        try await db.write { db in
            try db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, bytes BLOB NOT NULL)")
            try db.insertModel(Note(id: nil, text: "empty", bytes: Data()))
            try db.insertModel(Note(id: nil, text: "big", bytes: megabyte))
        }
        let (notes, raw) = try await db.read { db in
            (
                try Note.all().order("id").fetchAll(db),
                try db.fetchAll("SELECT typeof(bytes), length(bytes) FROM notes ORDER BY id").map(\.values)
            )
        }
        #expect(notes.map(\.bytes) == [Data(), megabyte])
        // An empty Data is a zero-length BLOB, not NULL.
        #expect(raw == [[.text("blob"), .integer(0)], [.text("blob"), .integer(1_048_576)]])
    }

    // MARK: Dates

    struct ISODate: Model, Equatable {
        var id: Int64?
        var at: Date
        static let tableName = "dates"
    }
    struct EpochSecondsDate: Model, Equatable {
        var id: Int64?
        var at: Date
        static let tableName = "dates"
        static let mappingOptions = MappingOptions(dateStrategy: .unixEpochSeconds)
    }
    struct EpochMillisecondsDate: Model, Equatable {
        var id: Int64?
        var at: Date
        static let tableName = "dates"
        static let mappingOptions = MappingOptions(dateStrategy: .unixEpochMilliseconds)
    }

    static let createDates = "CREATE TABLE dates (id INTEGER PRIMARY KEY, at)"
    /// 2024-05-01T12:30:00.250Z
    static let quarterPast = Date(timeIntervalSince1970: 1_714_566_600.25)

    @Test func givenTheISO8601Strategy_whenADateIsStored_thenItIsUTCTextWithMilliseconds() async throws {
        let db = try Database.temporary()
        let subMillisecond = Self.quarterPast.addingTimeInterval(0.000_4)
        try await db.write { db in
            try db.execute(Self.createDates)
            try db.insertModel(ISODate(id: nil, at: Self.quarterPast))
            try db.insertModel(ISODate(id: nil, at: subMillisecond))
            try db.insertModel(ISODate(id: nil, at: Date(timeIntervalSince1970: 0)))
            try db.insertModel(ISODate(id: nil, at: .distantPast))
            try db.insertModel(ISODate(id: nil, at: .distantFuture))
        }
        let (dates, raw) = try await db.read { db in
            (
                try ISODate.all().order("id").fetchAll(db).map(\.at),
                try db.fetchAll("SELECT at FROM dates ORDER BY id").map { $0[0] }
            )
        }
        #expect(
            raw == [
                .text("2024-05-01T12:30:00.250Z"), .text("2024-05-01T12:30:00.250Z"), .text("1970-01-01T00:00:00.000Z"),
                // Foundation's distantPast is 0001-01-01 in the Julian calendar, 0000-12-30 in proleptic Gregorian.
                .text("0000-12-30T00:00:00.000Z"), .text("4001-01-01T00:00:00.000Z"),
            ])
        // Millisecond precision: the sub-millisecond part is rounded away, whole milliseconds are exact.
        #expect(
            dates == [Self.quarterPast, Self.quarterPast, Date(timeIntervalSince1970: 0), .distantPast, .distantFuture])
    }

    @Test(arguments: [253_402_300_800.0, -62_167_219_201.0])
    func givenTheISO8601Strategy_whenADateIsOutsideYears0To9999_thenItIsRefusedNotCorrupted(seconds: Double)
        async throws
    {
        let db = try Database.temporary()
        try await db.write { try $0.execute(Self.createDates) }
        let error = await #expect(throws: MappingError.self) {
            try await db.write { try $0.insertModel(ISODate(id: nil, at: Date(timeIntervalSince1970: seconds))) }
        }
        #expect(error?.column == "dates.at")
        #expect(error?.message.hasPrefix("ISODate.at: ") == true)
        #expect(error?.message.contains("years 0000–9999") == true)
        let count = try await db.read { try ISODate.fetchCount($0) }
        #expect(count == 0)
    }

    @Test func givenTheEpochSecondsStrategy_whenADateIsStored_thenItIsARealWithinAMicrosecond() async throws {
        let db = try Database.temporary()
        let now = Date()
        try await db.write { db in
            try db.execute(Self.createDates)
            try db.insertModel(EpochSecondsDate(id: nil, at: Self.quarterPast))
            try db.insertModel(EpochSecondsDate(id: nil, at: now))
        }
        let (dates, raw) = try await db.read { db in
            (
                try EpochSecondsDate.all().order("id").fetchAll(db).map(\.at),
                try db.fetchOne("SELECT at FROM dates WHERE id = 1")?[0]
            )
        }
        #expect(raw == .real(1_714_566_600.25))
        #expect(dates.first == Self.quarterPast)
        // Seconds since 1970 have fewer fraction bits than Date's seconds since 2001: not always bit-exact.
        #expect(abs(dates[1].timeIntervalSince(now)) < 0.000_001)
    }

    @Test func givenTheEpochMillisecondsStrategy_whenADateIsStored_thenItIsAnInteger() async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute(Self.createDates)
            try db.insertModel(EpochMillisecondsDate(id: nil, at: Self.quarterPast))
            try db.insertModel(EpochMillisecondsDate(id: nil, at: Date(timeIntervalSince1970: -1.5)))
        }
        let (dates, raw) = try await db.read { db in
            (
                try EpochMillisecondsDate.all().order("id").fetchAll(db).map(\.at),
                try db.fetchAll("SELECT at FROM dates ORDER BY id").map { $0[0] }
            )
        }
        #expect(raw == [.integer(1_714_566_600_250), .integer(-1500)])
        #expect(dates == [Self.quarterPast, Date(timeIntervalSince1970: -1.5)])
    }

    // MARK: UUID, URL, Decimal

    struct Ticket: Model, Equatable {
        var id: UUID
        var link: URL
        var amount: Decimal
    }
    struct BlobTicket: Model, Equatable {
        var id: UUID
        var link: URL
        var amount: Decimal
        static let tableName = "tickets"
        static let mappingOptions = MappingOptions(uuidStrategy: .blob)
    }

    static let createTickets = "CREATE TABLE tickets (id PRIMARY KEY, link TEXT NOT NULL, amount TEXT NOT NULL)"

    @Test func givenAUUIDKeyAsText_whenStored_thenItIsTheUppercaseStringAndFindable() async throws {
        let db = try Database.temporary()
        let id = UUID()
        let ticket = Ticket(id: id, link: URL(string: "https://example.com/a%20b?q=1&r=%C3%A9#top")!, amount: 1)
        try await db.write { db in
            try db.execute(Self.createTickets)
            try db.insertModel(ticket)
        }
        let (found, raw) = try await db.read { db in
            (try Ticket.find(id, in: db), try db.fetchOne("SELECT id, link FROM tickets")?.values)
        }
        #expect(found == ticket)
        #expect(raw == [.text(id.uuidString), .text("https://example.com/a%20b?q=1&r=%C3%A9#top")])
    }

    @Test func givenAUUIDKeyAsBlob_whenStored_thenItIsSixteenBytesAndFindable() async throws {
        let db = try Database.temporary()
        let id = UUID(uuidString: "00112233-4455-6677-8899-AABBCCDDEEFF")!
        let ticket = BlobTicket(id: id, link: URL(fileURLWithPath: "/tmp/a b.txt"), amount: 2)
        try await db.write { db in
            try db.execute(Self.createTickets)
            try db.insertModel(ticket)
        }
        let (found, raw) = try await db.read { db in
            (try BlobTicket.find(id, in: db), try db.fetchOne("SELECT typeof(id), hex(id) FROM tickets")?.values)
        }
        #expect(found == ticket)
        #expect(raw == [.text("blob"), .text("00112233445566778899AABBCCDDEEFF")])
    }

    @Test(arguments: [
        "0.1", "0.3", "-0.000000000000000000000000000001", "12345678901234567890.123456789012345678",
        "99999999999999999999999999999999999999", "0",
    ])
    func givenADecimal_whenStored_thenItIsLosslessText(text: String) async throws {
        let db = try Database.temporary()
        let amount = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))!
        try await db.write { db in
            try db.execute(Self.createTickets)
            try db.insertModel(Ticket(id: UUID(), link: URL(string: "https://example.com")!, amount: amount))
        }
        let (back, raw) = try await db.read { db in
            (try Ticket.fetchAll(db).first?.amount, try db.fetchOne("SELECT amount FROM tickets")?[0])
        }
        #expect(back == amount)
        #expect(raw == .text(text))
    }

    @Test func givenDecimalArithmetic_whenStored_thenNoBinaryFloatingPointErrorAppears() async throws {
        let db = try Database.temporary()
        let sum = Decimal(string: "0.1")! + Decimal(string: "0.2")!
        try await db.write { db in
            try db.execute(Self.createTickets)
            try db.insertModel(Ticket(id: UUID(), link: URL(string: "https://example.com")!, amount: sum))
        }
        let raw = try await db.read { try $0.scalar("SELECT amount FROM tickets") }
        #expect(raw == .text("0.3"))
    }

    // MARK: Enums and optionals

    enum Genre: String, Codable { case fiction, essay }
    enum Priority: Int, Codable {
        case low = 1
        case high = 9
    }

    struct Item: Model, Equatable {
        var id: Int64?
        var genre: Genre
        var priority: Priority
        var note: String?
        var count: Int?
        var ratio: Double?
        var due: Date?
        var owner: UUID?
        var flags: [String]?
        var tier: Priority?
    }

    static let createItems = """
        CREATE TABLE items (id INTEGER PRIMARY KEY, genre TEXT, priority INTEGER, note TEXT DEFAULT 'unset',
        count INTEGER, ratio REAL, due TEXT, owner TEXT, flags TEXT, tier INTEGER)
        """

    @Test func givenRawValueEnums_whenStored_thenTheirRawValuesAreTheColumns() async throws {
        let db = try Database.temporary()
        let item = Item(
            id: 1, genre: .essay, priority: .high, note: "n", count: 3, ratio: 0.5, due: Self.quarterPast,
            owner: UUID(), flags: ["a"], tier: .low)
        try await db.write { db in
            try db.execute(Self.createItems)
            try db.insertModel(item)
        }
        let (back, raw) = try await db.read { db in
            (try Item.find(1, in: db), try db.fetchOne("SELECT genre, priority, tier FROM items")?.values)
        }
        #expect(back == item)
        #expect(raw == [.text("essay"), .integer(9), .integer(1)])
    }

    /// Used only by the test below, so that the column layout Docket learns for the type comes from
    /// a first encoding whose optionals are all `nil` (layouts are shared process-wide).
    struct SparseItem: Model, Equatable {
        var id: Int64?
        var genre: Genre
        var priority: Priority
        var note: String?
        var count: Int?
        var ratio: Double?
        var due: Date?
        var owner: UUID?
        var flags: [String]?
        var tier: Priority?
        static let tableName = "items"
    }

    @Test func givenNilOptionals_whenStored_thenEveryColumnIsNULLEvenWithADefault() async throws {
        let db = try Database.temporary()
        let empty = SparseItem(
            id: 1, genre: .fiction, priority: .low, note: nil, count: nil, ratio: nil, due: nil,
            owner: nil, flags: nil, tier: nil)
        try await db.write { db in
            try db.execute(Self.createItems)
            try db.insertModel(empty)
        }
        let (back, raw) = try await db.read { db in
            (
                try SparseItem.find(1, in: db),
                try db.fetchOne("SELECT note, count, ratio, due, owner, flags, tier FROM items")?.values
            )
        }
        #expect(back == empty)
        // `note` has a DEFAULT: a nil must still be written as NULL, not left to the default.
        #expect(raw == Array(repeating: .null, count: 7))
    }

    // MARK: Nested Codable values

    struct Address: Codable, Equatable {
        var street: String
        var city: String
        var tags: [String]
    }
    struct Customer: Model, Equatable {
        var id: Int64?
        var address: Address
        var scores: [Int]
        var extras: [String: Double]
        var history: [Address]
    }

    static let createCustomers = "CREATE TABLE customers (id INTEGER PRIMARY KEY, address, scores, extras, history)"

    @Test func givenNestedStructsAndArrays_whenStored_thenTheyAreJSONTextWithSortedKeys() async throws {
        let db = try Database.temporary()
        let customer = Customer(
            id: 1, address: Address(street: "1 Main", city: "Oslo", tags: ["home"]), scores: [3, 1, 2],
            extras: ["b": 2, "a": 1.5], history: [])
        try await db.write { db in
            try db.execute(Self.createCustomers)
            try db.insertModel(customer)
        }
        let (back, raw) = try await db.read { db in
            (
                try Customer.find(1, in: db),
                try db.fetchOne("SELECT address, scores, extras, history FROM customers")?.values
            )
        }
        #expect(back == customer)
        #expect(
            raw == [
                .text(#"{"city":"Oslo","street":"1 Main","tags":["home"]}"#), .text("[3,1,2]"),
                .text(#"{"a":1.5,"b":2}"#), .text("[]"),
            ])
    }

    @Test func givenALoadedModel_whenANestedValueChangesInPlace_thenTheReEncodedRowHasTheChange() async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute(Self.createCustomers)
            try db.insertModel(
                Customer(
                    id: 1, address: Address(street: "1 Main", city: "Oslo", tags: []), scores: [1], extras: [:],
                    history: []))
        }
        try await db.write { db in
            var customer = try Customer.find(1, in: db)!
            customer.address.tags.append("work")
            customer.address.city = "Bergen"
            customer.scores[0] += 1
            customer.history.append(customer.address)
            try db.updateModel(customer)
        }
        let back = try await db.read { try Customer.find(1, in: $0) }
        #expect(back?.address == Address(street: "1 Main", city: "Bergen", tags: ["work"]))
        #expect(back?.scores == [2])
        #expect(back?.history == [Address(street: "1 Main", city: "Bergen", tags: ["work"])])
    }
}
