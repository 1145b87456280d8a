// What can be wrong with a grammar or a JSON schema given for structured output: each names the place
// or the feature, for the 400 a server sends and the line `ember run` prints.

public enum GrammarError: Error, Equatable, CustomStringConvertible {
    /// GBNF text that does not parse: what was expected, on which line.
    case syntax(String, line: Int)
    case undefinedRule(String)
    case noRoot
    /// A rule that can reach itself without reading a character (left recursion).
    case leftRecursion(String)
    /// A JSON schema that is not valid JSON or not a schema.
    case invalidSchema(String)
    /// A JSON schema keyword or form Ember does not turn into a grammar.
    case unsupportedSchema(String)

    public var description: String {
        switch self {
        case let .syntax(message, line): "grammar, line \(line): \(message)"
        case let .undefinedRule(name): "grammar: rule '\(name)' is used but not defined"
        case .noRoot: "grammar: no rule named 'root'"
        case let .leftRecursion(name): "grammar: rule '\(name)' is left-recursive"
        case let .invalidSchema(message): "JSON schema: \(message)"
        case let .unsupportedSchema(feature): "JSON schema: \(feature) is not supported"
        }
    }
}
