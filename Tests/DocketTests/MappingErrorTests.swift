import Docket
import Foundation
import Testing

/// Every way a value can fail to be written to, or read from, its column, asserting on the message
/// the user sees and on the database being left unchanged.
@Suite struct MappingErrorTests {
    enum Genre: String, Codable { case fiction, essay }
    enum Priority: Int, Codable {
        case low = 1
        case high = 9
    }

    struct Book: Model, Equatable {
        var id: Int64?
        var title: String
        var pages: Int
        var copies: UInt8
        var inPrint: Bool
        var genre: Genre
        var priority: Priority
        var published: Date
        var isbn: UUID
        var weight: Float
    }

    static let createBooks = """
        CREATE TABLE books (id INTEGER PRIMARY KEY, title, pages, copies, inPrint, genre, priority, published, isbn,
        weight)
        """
    static let validRow =
        "'Dune', 412, 3, 1, 'fiction', 9, '2024-05-01T12:30:00.250Z', "
        + "'00112233-4455-6677-8899-AABBCCDDEEFF', 0.5"

    /// A database holding one valid book, then `UPDATE books SET <assignment>`.
    static func database(with assignment: String? = nil) async throws -> Database {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute(createBooks)
            try db.execute(
                "INSERT INTO books (title, pages, copies, inPrint, genre, priority, published, isbn, weight) VALUES ("
                    + validRow + ")")
            if let assignment { try db.execute("UPDATE books SET \(assignment)") }
        }
        return db
    }

    static func decodingError(after assignment: String) async throws -> String {
        let db = try await database(with: assignment)
        do {
            _ = try await db.read { try Book.fetchAll($0) }
            Issue.record("decoding succeeded after \(assignment)")
            return ""
        } catch let error as MappingError {
            return error.message
        }
    }

    @Test func givenAValidRow_whenDecoded_thenNoErrorIsThrown() async throws {
        let db = try await Self.database()
        let books = try await db.read { try Book.fetchAll($0) }
        #expect(books.map(\.title) == ["Dune"])
    }

    // MARK: Decoding

    @Test func givenTextInAnIntegerColumn_whenDecoded_thenTheErrorNamesColumnValueAndExpectedType() async throws {
        let message = try await Self.decodingError(after: "pages = 'abc'")
        #expect(message == "books.pages holds TEXT 'abc'; Book.pages expects Int")
    }

    @Test func givenNullInANonOptionalColumn_whenDecoded_thenTheErrorSaysNULL() async throws {
        let message = try await Self.decodingError(after: "title = NULL")
        #expect(message == "books.title holds NULL; Book.title expects String")
    }

    @Test func givenAnIntegerTooLargeForUInt8_whenDecoded_thenTheErrorSaysOutOfRange() async throws {
        let message = try await Self.decodingError(after: "copies = 300")
        #expect(message == "books.copies holds INTEGER 300; Book.copies expects UInt8 (out of range)")
    }

    @Test func givenTextInABoolColumn_whenDecoded_thenTheErrorExpectsBool() async throws {
        let message = try await Self.decodingError(after: "inPrint = 'yes'")
        #expect(message == "books.inPrint holds TEXT 'yes'; Book.inPrint expects Bool")
    }

    @Test func givenTextInAFloatColumn_whenDecoded_thenTheErrorExpectsFloat() async throws {
        let message = try await Self.decodingError(after: "weight = 'heavy'")
        #expect(message == "books.weight holds TEXT 'heavy'; Book.weight expects Float")
    }

    @Test func givenAResultWithoutAColumn_whenDecoded_thenTheErrorSaysTheColumnIsMissing() async throws {
        let db = try await Self.database()
        let error = await #expect(throws: MappingError.self) {
            try await db.read { try Book.fetchAll($0, sql: "SELECT id, title FROM books") }
        }
        #expect(error?.message == "books.pages is not in the result; Book.pages expects Int")
        #expect(error?.column == "books.pages")
    }

    @Test func givenAnUnknownStringRawValue_whenDecoded_thenTheErrorNamesTheValue() async throws {
        let message = try await Self.decodingError(after: "genre = 'poetry'")
        #expect(message.hasPrefix("books.genre holds TEXT 'poetry'; Book.genre expects Genre ("))
        #expect(message.contains("poetry"))
    }

    @Test func givenAnUnknownIntRawValue_whenDecoded_thenTheErrorNamesTheValue() async throws {
        let message = try await Self.decodingError(after: "priority = 5")
        #expect(message.hasPrefix("books.priority holds INTEGER 5; Book.priority expects Priority ("))
    }

    @Test func givenAStringEnumColumnHoldingAnInteger_whenDecoded_thenTheErrorNamesBoth() async throws {
        let message = try await Self.decodingError(after: "genre = 7")
        #expect(message == "books.genre holds INTEGER 7; Book.genre expects Genre")
    }

    @Test func givenInvalidUTF8Text_whenDecoded_thenTheErrorSaysSo() async throws {
        let message = try await Self.decodingError(after: "title = CAST(x'ff61' AS TEXT)")
        #expect(message == "books.title holds TEXT that is not valid UTF-8 (2 bytes); Book.title expects String")
    }

    @Test func givenInvalidUTF8Text_whenReadAsARow_thenItIsKeptAsTheRawBytes() async throws {
        let db = try await Self.database(with: "title = CAST(x'ff61' AS TEXT)")
        let value = try await db.read { try $0.scalar("SELECT title FROM books") }
        #expect(value == .blob(Data([0xFF, 0x61])))
    }

    @Test func givenAMalformedDate_whenDecoded_thenTheErrorSaysWhatFormatIsExpected() async throws {
        let message = try await Self.decodingError(after: "published = '2024-13-45'")
        #expect(
            message == "books.published holds TEXT '2024-13-45'; Book.published expects Date "
                + "(expected an ISO-8601 date as text)")
    }

    @Test func givenGarbageInAUUIDColumn_whenDecoded_thenTheErrorSaysWhatIsExpected() async throws {
        let message = try await Self.decodingError(after: "isbn = 'not-a-uuid'")
        #expect(
            message == "books.isbn holds TEXT 'not-a-uuid'; Book.isbn expects UUID "
                + "(expected a UUID as text or a 16-byte blob)")
    }

    @Test func givenABlobOfTheWrongSizeInAUUIDColumn_whenDecoded_thenTheErrorSaysWhatIsExpected() async throws {
        let message = try await Self.decodingError(after: "isbn = x'0011'")
        #expect(
            message
                == "books.isbn holds BLOB (2 bytes); Book.isbn expects UUID (expected a UUID as text or a 16-byte blob)"
        )
    }

    struct Shelf: Model {
        struct Dimensions: Codable { var width: Int }
        var id: Int64?
        var size: Dimensions
        static let tableName = "shelves"  // the default plural rule would say "shelfs"
    }

    @Test func givenInvalidJSONInANestedColumn_whenDecoded_thenTheErrorNamesColumnAndType() async throws {
        let db = try Database.temporary()
        try await db.write { db in
            try db.execute("CREATE TABLE shelves (id INTEGER PRIMARY KEY, size TEXT)")
            try db.execute(#"INSERT INTO shelves (size) VALUES ('{"width": "wide"}')"#)
        }
        let error = await #expect(throws: MappingError.self) { try await db.read { try Shelf.fetchAll($0) } }
        #expect(
            error?.message.hasPrefix(#"shelves.size holds TEXT '{"width": "wide"}'; Shelf.size expects Dimensions ("#)
                == true)
        #expect(error?.message.contains("width") == true)
    }

    // MARK: Encoding

    struct Counter: Model {
        var id: Int64?
        var big: UInt64
        var word: UInt
        var ratio: Double
        var small: Float
        var maybe: Double?
    }

    static func encodingError(_ counter: Counter) async throws -> MappingError? {
        let db = try Database.temporary()
        try await db.write {
            try $0.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, big, word, ratio, small, maybe)")
        }
        let error = await #expect(throws: MappingError.self) {
            try await db.write { try $0.insertModel(counter) }
        }
        // Nothing was written.
        let count = try await db.read { try Counter.fetchCount($0) }
        #expect(count == 0)
        return error
    }

    @Test func givenAUInt64AboveInt64Max_whenEncoded_thenTheErrorNamesTheColumn() async throws {
        let error = try await Self.encodingError(
            Counter(id: nil, big: UInt64(Int64.max) + 1, word: 0, ratio: 0, small: 0, maybe: nil))
        #expect(
            error?.message
                == "Counter.big = 9223372036854775808 does not fit SQLite's INTEGER (Int64) in column counters.big")
        #expect(error?.column == "counters.big")
    }

    @Test func givenAUIntAboveInt64Max_whenEncoded_thenTheErrorNamesTheColumn() async throws {
        let error = try await Self.encodingError(Counter(id: nil, big: 0, word: .max, ratio: 0, small: 0, maybe: nil))
        #expect(error?.column == "counters.word")
        #expect(error?.message.hasPrefix("Counter.word = 18446744073709551615 does not fit") == true)
    }

    @Test func givenANaNDouble_whenEncoded_thenItIsRefusedRatherThanStoredAsNULL() async throws {
        let error = try await Self.encodingError(Counter(id: nil, big: 0, word: 0, ratio: .nan, small: 0, maybe: nil))
        #expect(error?.message == "Counter.ratio is NaN, which SQLite cannot store (it would become NULL)")
        #expect(error?.column == "counters.ratio")
    }

    @Test func givenANaNFloat_whenEncoded_thenItIsRefused() async throws {
        let error = try await Self.encodingError(Counter(id: nil, big: 0, word: 0, ratio: 0, small: .nan, maybe: nil))
        #expect(error?.message == "Counter.small is NaN, which SQLite cannot store (it would become NULL)")
    }

    @Test func givenANaNInAnOptionalDouble_whenEncoded_thenItIsRefused() async throws {
        let error = try await Self.encodingError(Counter(id: nil, big: 0, word: 0, ratio: 0, small: 0, maybe: .nan))
        #expect(error?.message == "Counter.maybe is NaN, which SQLite cannot store (it would become NULL)")
    }
}
