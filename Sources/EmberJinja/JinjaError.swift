// Why a chat template could not be parsed or rendered. Every case but `raised` names the line and
// column of the template where it went wrong, so a bad template from a model file points at itself.

/// A position in a template's source: 1-based line and column (columns count Unicode scalars).
public struct JinjaLocation: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

public enum JinjaError: Error, Equatable, CustomStringConvertible {
    /// The template is not valid Jinja (found while parsing, before anything is rendered).
    case syntax(String, JinjaLocation)
    /// An operation met a value of the wrong type, e.g. `'a' + 1` or a call of something not callable.
    case type(String, JinjaLocation)
    /// An undefined value was used where jinja2 also fails: its attribute, item, or arithmetic on it.
    case undefined(String, JinjaLocation)
    /// Arithmetic or a limit failed: division by zero, integer overflow, a range or string too large,
    /// macros nested too deep.
    case arithmetic(String, JinjaLocation)
    /// The template called `raise_exception(message)`: the conversation breaks one of its rules.
    case raised(String)

    public var description: String {
        switch self {
        case let .syntax(message, location): "chat template syntax error at \(location): \(message)"
        case let .type(message, location): "chat template type error at \(location): \(message)"
        case let .undefined(message, location): "chat template error at \(location): \(message)"
        case let .arithmetic(message, location): "chat template error at \(location): \(message)"
        case let .raised(message): "the chat template rejected the conversation: \(message)"
        }
    }
}
