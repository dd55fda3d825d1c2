/// The columns a model type encodes to, in the order its `encode(to:)` first produced them.
///
/// Learned from encoding (no reflection, no `Mirror`) and shared by every encoding of the type;
/// it only grows, when a later value encodes a key no earlier one did (an optional that was `nil`
/// before). Slot `i` of an encoded row holds the value of column `columns[i]`.
final class ColumnLayout: Sendable {
    struct Snapshot: Sendable {
        /// Coding-key strings, by slot.
        var keys: [String] = []
        /// Column names, by slot.
        var columns: [String] = []
        var slotByKey: [String: Int] = [:]
    }
    private let state = Locked(Snapshot())

    var snapshot: Snapshot { state.withLock { $0 } }
    var keyCount: Int { state.withLock { $0.keys.count } }

    /// Adds keys learned by one encoding; returns the merged layout.
    func merge(keys: [String], naming: ColumnNaming) -> Snapshot {
        state.withLock { layout in
            for key in keys where layout.slotByKey[key] == nil {
                layout.slotByKey[key] = layout.keys.count
                layout.keys.append(key)
                layout.columns.append(naming.column(for: key))
            }
            return layout
        }
    }

    private static let registry = Locked<[ObjectIdentifier: ColumnLayout]>([:])

    /// The layout of a model type, created on first use.
    static func of(_ type: Any.Type) -> ColumnLayout {
        registry.withLock { layouts in
            if let layout = layouts[ObjectIdentifier(type)] { return layout }
            let layout = ColumnLayout()
            layouts[ObjectIdentifier(type)] = layout
            return layout
        }
    }
}
