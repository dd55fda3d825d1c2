@_exported import Docket

/// Generates a model's ``Docket/Model/init(row:)`` and ``Docket/Model/write(to:)``: one typed
/// ``Docket/RowReader`` or ``Docket/RowWriter`` call per stored property, instead of `Codable`'s
/// dynamically dispatched containers. Rows then decode and encode several times faster; what is
/// read and written, and every error, stays the same as through `Codable`.
///
/// ```swift
/// import DocketMacros
///
/// @Table
/// struct Book: Model {
///     var id: Int64?
///     var authorID: Int64
///     var title: String
///     static let columnNaming = ColumnNaming.snakeCase
/// }
/// ```
///
/// The columns are the ones synthesized `Codable` uses: every stored property (except a `let` with
/// an initial value), or the cases of a `CodingKeys` enum under their raw values. Naming
/// strategies, date and UUID strategies, and JSON columns for nested `Codable` values all apply as
/// before. See `Docs/Models.md`.
@attached(extension, names: named(init), named(write))
public macro Table() = #externalMacro(module: "DocketMacrosPlugin", type: "TableMacro")
