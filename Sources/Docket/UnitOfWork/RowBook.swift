/// What each queued row of one model type does (its ``ChangeKind``) and its position in the unit of
/// work's queue.
///
/// A bulk insert queues rows that are all inserts at consecutive positions. While that holds, the
/// book keeps two numbers instead of two per-row arrays, so queueing a million rows costs no
/// bookkeeping memory. The first row that breaks the pattern (an update, a delete, a position out
/// of sequence, a dropped row) writes the arrays out, and the book keeps them from then on.
@usableFromInline struct RowBook: Sendable {
    /// The number of rows.
    @usableFromInline private(set) var count = 0
    /// While `kinds` is empty: the position of row 0 (row `r` is at `base + r`).
    @usableFromInline private(set) var base: Int32 = 0
    /// Per-row kinds and positions, once the rows stopped being consecutive inserts.
    @usableFromInline private(set) var kinds: [ChangeKind] = []
    @usableFromInline private(set) var positions: [Int32] = []

    @usableFromInline init() {}

    /// `true` while every row is an insert at position `base + row`.
    @inlinable var isUniform: Bool { kinds.isEmpty }

    @inlinable mutating func append(_ kind: ChangeKind, position: Int32) {
        if kinds.isEmpty, kind == .insert {
            if count == 0 { base = position }
            if position == base &+ Int32(truncatingIfNeeded: count) {
                count += 1
                return
            }
        }
        writeOut()
        kinds.append(kind)
        positions.append(position)
        count += 1
    }

    /// Appends `n` inserts at positions `position ..< position + n`.
    @inlinable mutating func appendInserts(_ n: Int, position: Int32) {
        guard n > 0 else { return }
        if kinds.isEmpty {
            if count == 0 { base = position }
            if position == base &+ Int32(truncatingIfNeeded: count) {
                count += n
                return
            }
        }
        writeOut()
        kinds.append(contentsOf: repeatElement(.insert, count: n))
        positions.append(contentsOf: (0..<Int32(n)).lazy.map { position + $0 })
        count += n
    }

    /// Turns the two numbers into per-row arrays (once).
    @usableFromInline mutating func writeOut() {
        guard kinds.isEmpty, count > 0 else { return }
        kinds = Array(repeating: .insert, count: count)
        positions = (0..<Int32(count)).map { base + $0 }
    }

    @inlinable func kind(_ row: Int) -> ChangeKind { kinds.isEmpty ? .insert : kinds[row] }
    @inlinable func position(_ row: Int) -> Int32 {
        kinds.isEmpty ? base &+ Int32(truncatingIfNeeded: row) : positions[row]
    }

    mutating func setKind(_ kind: ChangeKind, row: Int) {
        if kinds.isEmpty, kind == .insert { return }
        writeOut()
        kinds[row] = kind
    }

    /// The change index of each row, given the change index of each queue position.
    func changeIndexes(_ dense: ChangeIndexMap) -> ChangeIndexMap {
        if kinds.isEmpty, dense.isIdentity { return ChangeIndexMap(offset: base) }
        return ChangeIndexMap(table: (0..<count).map { dense[Int(position($0))] })
    }
}

/// A map from an integer (a queue position, or a row of one model type) to a dense change index:
/// `offset + i` when nothing was dropped (no array at all), otherwise a table with -1 for rows left
/// out.
struct ChangeIndexMap: Sendable {
    private let table: [Int32]?
    private let offset: Int32

    init(offset: Int32) {
        self.table = nil
        self.offset = offset
    }

    init(table: [Int32]) {
        self.table = table
        self.offset = 0
    }

    var isIdentity: Bool { table == nil && offset == 0 }

    subscript(_ i: Int) -> Int32 { table?[i] ?? offset &+ Int32(truncatingIfNeeded: i) }
}
