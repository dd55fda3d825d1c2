import DocketMacros
import Foundation
import Testing

enum Mood: String, Codable, Sendable { case calm, busy }

struct Dimensions: Codable, Equatable, Sendable {
    var width: Double
    var height: Double
}

/// Every kind of property, read and written by `@Table`'s generated code.
@Table
struct FastItem: Model, Equatable {
    var id: Int64?
    var name: String
    var note: String?
    var count: Int
    var small: Int32
    var byte: UInt8
    var flag: Bool
    var maybeFlag: Bool?
    var ratio: Double
    var maybeRatio: Double?
    var scale: Float
    var created: Date
    var token: UUID
    var payload: Data
    var link: URL?
    var mood: Mood
    var size: Dimensions
    var extra: Dimensions?
    var tags: [String]
    var amount: Decimal
    static let kind = "item"
    var label: String { "\(name) ×\(count)" }
    static let tableName = "items"
    static let columnNaming = ColumnNaming.snakeCase

    var codable: CodableItem {
        CodableItem(
            id: id, name: name, note: note, count: count, small: small, byte: byte, flag: flag, maybeFlag: maybeFlag,
            ratio: ratio, maybeRatio: maybeRatio, scale: scale, created: created, token: token, payload: payload,
            link: link, mood: mood, size: size, extra: extra, tags: tags, amount: amount)
    }
}

/// The same model through synthesized `Codable`: the reference `@Table` must match.
struct CodableItem: Model, Equatable {
    var id: Int64?
    var name: String
    var note: String?
    var count: Int
    var small: Int32
    var byte: UInt8
    var flag: Bool
    var maybeFlag: Bool?
    var ratio: Double
    var maybeRatio: Double?
    var scale: Float
    var created: Date
    var token: UUID
    var payload: Data
    var link: URL?
    var mood: Mood
    var size: Dimensions
    var extra: Dimensions?
    var tags: [String]
    var amount: Decimal
    static let tableName = "items"
    static let columnNaming = ColumnNaming.snakeCase
}

/// Custom coding keys: `@Table` uses their raw values, as `Codable` does.
@Table
struct Label: Model, Equatable {
    var id: Int64?
    var text: String
    var isDefault: Bool
    var cache: Int = 0
    enum CodingKeys: String, CodingKey {
        case id
        case text = "label_text"
        case isDefault = "is_default"
    }
}

@Suite struct TableModelTests {
    // No NOT NULL or type constraints: the error tests store what a model cannot read.
    static let schema = """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY, name, note, count, small, byte, flag, maybe_flag, ratio, maybe_ratio, scale,
            created, token, payload, link, mood, size, extra, tags, amount);
        CREATE TABLE labels (id INTEGER PRIMARY KEY, label_text TEXT NOT NULL, is_default INTEGER NOT NULL);
        """

    func database() throws -> Database {
        let db = try Database.temporary()
        try db.blocking.write { try $0.execute(Self.schema) }
        return db
    }

    static func item(_ i: Int) -> FastItem {
        FastItem(
            id: nil, name: "item \(i)", note: i % 2 == 0 ? nil : "note \(i)", count: i * 7, small: Int32(-i),
            byte: UInt8(i % 256), flag: i % 3 == 0, maybeFlag: i % 4 == 0 ? nil : i % 2 == 0, ratio: Double(i) / 8,
            maybeRatio: i % 5 == 0 ? nil : Double(i) * 1.5, scale: Float(i) / 4,
            created: Date(timeIntervalSince1970: 1_700_000_000 + Double(i)),
            token: UUID(uuidString: String(format: "00000000-0000-0000-0000-%012d", i))!,
            payload: Data([UInt8(i % 256), 1, 2]), link: i % 2 == 0 ? URL(string: "https://example.com/\(i)") : nil,
            mood: i % 2 == 0 ? .calm : .busy, size: Dimensions(width: Double(i), height: 2),
            extra: i % 3 == 0 ? Dimensions(width: 1, height: Double(i)) : nil, tags: (0..<(i % 3)).map { "t\($0)" },
            amount: Decimal(string: "\(i).25")!)
    }

    @Test func givenRowsWrittenThroughCodable_whenReadWithTable_thenTheModelsMatchCodablesReading() async throws {
        let db = try database()
        let uow = UnitOfWork(database: db)
        uow.insert(contentsOf: (0..<50).map { Self.item($0).codable })
        try await uow.commit()

        let fast = try await db.read { try FastItem.all().order("id").fetchAll($0) }
        let codable = try await db.read { try CodableItem.all().order("id").fetchAll($0) }
        #expect(fast.count == 50)
        #expect(fast.map(\.codable) == codable)
        #expect(fast[3].label == "item 3 ×21")
    }

    @Test func givenTheSameModels_whenWrittenWithTableAndWithCodable_thenTheStoredColumnsAreIdentical() async throws {
        let db = try database()
        let uow = UnitOfWork(database: db)
        let models = (0..<30).map(Self.item)
        let fast = uow.insert(contentsOf: models)
        let codable = uow.insert(contentsOf: models.map(\.codable))
        try await uow.commit()

        let rows = try await db.read { try $0.fetchAll("SELECT * FROM items ORDER BY id") }
        #expect(rows.count == 60)
        for i in 0..<30 {
            #expect(Array(rows[i].values.dropFirst()) == Array(rows[i + 30].values.dropFirst()), "row \(i)")
        }
        #expect(fast.map(\.id) == rows.prefix(30).map { $0["id"]?.integerValue })
        #expect(codable.map(\.id) == rows.suffix(30).map { $0["id"]?.integerValue })
        // Spot checks against the stored representation.
        #expect(rows[1]["note"] == .text("note 1"))
        #expect(rows[0]["note"] == .null)
        #expect(rows[2]["size"] == .text(#"{"height":2,"width":2}"#))
        #expect(rows[0]["extra"] == .text(#"{"height":0,"width":1}"#))
    }

    @Test func givenATableModel_whenUpdatedThroughAUnitOfWork_thenOnlyChangedColumnsAreWritten() async throws {
        let db = try database()
        let setup = UnitOfWork(database: db)
        setup.insert(contentsOf: (0..<3).map(Self.item))
        try await setup.commit()

        let uow = UnitOfWork(database: db)
        var items = try await uow.fetch(FastItem.all().order("id"))
        items[1].note = "changed"
        items[1].tags = ["x", "y"]
        uow.update(items[1])
        uow.update(items[2])  // no net change: no SQL
        let plan = try await uow.plan()
        #expect(plan.steps.count == 1)
        #expect("\(plan)" == #"1. UPDATE "items" SET "note", "tags" — FastItem #1 (id 2)"#)
        try await uow.commit()

        let id = try #require(items[1].id)
        let stored = try await db.read { try FastItem.find(id, in: $0) }
        #expect(stored == items[1])
    }

    @Test func givenCustomCodingKeys_whenRoundTripped_thenTheRawValuesAreTheColumns() async throws {
        let db = try database()
        let uow = UnitOfWork(database: db)
        let label = uow.insert(Label(text: "urgent", isDefault: true, cache: 9))
        try await uow.commit()

        let row = try await db.read { try $0.fetchOne("SELECT label_text, is_default FROM labels") }
        #expect(row?.values == [.text("urgent"), .integer(1)])
        let id = try #require(label.id)
        let read = try await db.read { try Label.find(id, in: $0) }
        #expect(read == Label(id: label.id, text: "urgent", isDefault: true, cache: 0))
    }

    /// Bad stored values: `@Table` must fail exactly as `Codable` does, naming the column.
    @Test(arguments: [
        ("UPDATE items SET name = NULL", "items.name holds NULL; FastItem.name expects String"),
        ("UPDATE items SET count = 'many'", "items.count holds TEXT 'many'; FastItem.count expects Int"),
        (
            "UPDATE items SET small = 3000000000",
            "items.small holds INTEGER 3000000000; FastItem.small expects Int32 (out of range)"
        ),
        ("UPDATE items SET token = 'not a uuid'", "items.token holds TEXT 'not a uuid'; FastItem.token expects UUID"),
        ("UPDATE items SET size = '{\"width\": 1}'", "items.size"),
        ("UPDATE items SET mood = 'angry'", "items.mood holds TEXT 'angry'; FastItem.mood expects Mood"),
    ])
    func givenABadStoredValue_whenRead_thenTableFailsAsCodableDoesNamingTheColumn(sql: String, expected: String)
        async throws
    {
        let db = try database()
        let uow = UnitOfWork(database: db)
        uow.insert(Self.item(1))
        try await uow.commit()
        try await db.write { try $0.execute(sql) }

        let fastError = await #expect(throws: MappingError.self) {
            _ = try await db.read { try FastItem.all().fetchAll($0) }
        }
        let codableError = await #expect(throws: MappingError.self) {
            _ = try await db.read { try CodableItem.all().fetchAll($0) }
        }
        let fast = "\(fastError.map { "\($0)" } ?? "")"
        #expect(fast.contains(expected), "\(fast)")
        #expect(
            fast == "\(codableError.map { "\($0)" } ?? "")".replacingOccurrences(of: "CodableItem", with: "FastItem"))
    }

    @Test func givenAQueryWithoutANonOptionalColumn_whenRead_thenTheErrorSaysTheColumnIsNotInTheResult() async throws {
        let db = try database()
        let uow = UnitOfWork(database: db)
        uow.insert(Label(text: "a", isDefault: false))
        try await uow.commit()

        let error = await #expect(throws: MappingError.self) {
            _ = try await db.read { try Label.fetchAll($0, sql: "SELECT id, is_default FROM labels") }
        }
        #expect(
            "\(error!)".contains("labels.label_text is not in the result; Label.label_text expects String"), "\(error!)"
        )
    }
}
