import Docket
import Foundation

/// Decodes models from hostile rows: each input picks, for every column, a storage class and a
/// value (wrong types, huge integers, invalid UTF-8, malformed dates, UUIDs, JSON). Decoding must
/// return a model or throw a `MappingError`; it must never crash.
struct Target: Model {
    enum Genre: String, Codable, Sendable { case fiction, poetry }
    struct Meta: Codable, Sendable {
        var tags: [String]
        var rating: Double?
    }
    var id: Int64?
    var title: String
    var pages: UInt8
    var count: Int32
    var price: Double
    var flag: Bool
    var published: Date
    var key: UUID
    var amount: Decimal
    var link: URL?
    var genre: Genre
    var meta: Meta
    var blob: Data?
}

let database = try! Database.temporary()
let columns = [
    "id", "title", "pages", "count", "price", "flag", "published", "key", "amount", "link", "genre", "meta", "blob",
]
let sql = "SELECT " + columns.map { "? AS \($0)" }.joined(separator: ", ")

/// Turns fuzz bytes into one value per column.
func values(from bytes: [UInt8]) -> [DatabaseValue] {
    var cursor = bytes.makeIterator()
    func take(_ n: Int) -> [UInt8] { (0..<n).compactMap { _ in cursor.next() } }
    return columns.map { _ in
        guard let kind = cursor.next() else { return .null }
        let length = Int(cursor.next() ?? 0) % 48
        let payload = take(length)
        switch kind % 6 {
        case 0: return .null
        case 1:
            var n: Int64 = 0
            for byte in payload.prefix(8) { n = n << 8 | Int64(byte) }
            return .integer(n)
        case 2:
            var bits: UInt64 = 0
            for byte in payload.prefix(8) { bits = bits << 8 | UInt64(byte) }
            return .real(Double(bitPattern: bits))
        case 3: return .text(String(decoding: payload, as: UTF8.self))
        case 4: return .blob(Data(payload))
        default:
            // Raw bytes as TEXT, invalid UTF-8 included: CAST(blob AS TEXT) keeps them.
            return .blob(Data(payload))
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelDecoding(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let row = values(from: Array(UnsafeBufferPointer(start: data, count: size)))
    let hostileText = size > 0 && data[0] & 0x80 != 0
    let query = hostileText ? sql.replacingOccurrences(of: "? AS title", with: "CAST(? AS TEXT) AS title") : sql
    do {
        _ = try database.blocking.read { try Target.fetchAll($0, sql: query, row) }
    } catch is MappingError {
    } catch let error as DatabaseError {
        preconditionFailure("decoding raised a database error: \(error)")
    } catch {
        preconditionFailure("decoding threw something other than MappingError: \(error)")
    }
    return 0
}
