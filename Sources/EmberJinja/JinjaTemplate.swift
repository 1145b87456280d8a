// A Jinja template (the dialect of Hugging Face chat templates), parsed once and rendered with a
// context of variables: the one entry point of this target.

public struct JinjaTemplate: Sendable {
    private let nodes: [JinjaNode]

    /// Parses `source`; a syntax error, an unknown tag, filter or test fails here.
    public init(_ source: String) throws(JinjaError) {
        nodes = try JinjaParser.parse(source)
    }

    /// The template rendered with exactly the variables in `context`; `now` is what `strftime_now` formats.
    public func render(context: [String: JinjaValue], now: JinjaDateTime = .now()) throws(JinjaError) -> String {
        var interpreter = JinjaInterpreter(context: context, now: now)
        return try interpreter.render(nodes)
    }
}
