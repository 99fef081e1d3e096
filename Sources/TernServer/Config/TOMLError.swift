/// A TOML syntax or structure error: the first problem found in a document.
///
/// Printed as `file:line:column: message`, the shape editors and `grep -n`
/// users already know.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given to the parser (used only for messages).
    public var file: String
    public var location: TOMLLocation
    public var message: String

    public init(file: String, location: TOMLLocation, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var line: Int { location.line }
    public var column: Int { location.column }

    public var description: String { "\(file):\(location.line):\(location.column): \(message)" }
}
