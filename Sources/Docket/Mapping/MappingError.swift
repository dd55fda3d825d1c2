/// A model value that cannot be written to, or read from, its columns.
///
/// The message names the model, the property, the column and the value at fault:
/// `books.pages holds TEXT 'abc'; Book.pages expects Int`.
public struct MappingError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The model type, e.g. `Book`.
    public let model: String
    /// The column, e.g. `books.pages`, when the error concerns one.
    public let column: String?
    /// The whole message.
    public let message: String

    public init(model: String, column: String?, message: String) {
        self.model = model
        self.column = column
        self.message = message
    }

    public var description: String { message }
}
