// How a model writes a tool call, read from its chat template: Hermes' `<tool_call>` tags around
// `{"name": ..., "arguments": ...}` (Qwen2.5, Qwen3, Hermes), Llama 3.x's bare `{"name": ...,
// "parameters": ...}`, or, for a template that renders no tools (SmolLM2, ChatML), Hermes' form
// described by Ember in a system message, with past calls and results written into the messages
// as text. Each format gives the grammar that makes a reply one or more calls (`tool_choice`
// `required` or a named function).

import EmberGrammar
import EmberJinja
import EmberTokenizer

enum ToolCallFormat: Equatable {
    /// `<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>`, one after another.
    case hermes
    /// The whole reply is `{"name": ..., "parameters": ...}`; one call per turn.
    case llama3
    /// Hermes' form, for a template without tools: Ember describes them itself.
    case described

    init(template: ChatTemplate) {
        if template.source.contains("<tool_call>") {
            self = .hermes
        } else if template.rendersTools && template.source.contains("\"parameters\"") {
            self = .llama3
        } else {
            self = .described
        }
    }

    /// The text that opens a call and the one that closes it; nil for Llama's bare JSON object.
    var tags: (open: String, close: String)? { self == .llama3 ? nil : ("<tool_call>", "</tool_call>") }

    /// The key a call's arguments go under.
    var argumentsKey: String { self == .llama3 ? "parameters" : "arguments" }

    // MARK: The prompt

    /// The messages to render, with the tools the template is to be given. A template without tools
    /// gets none: the tools are described in the system message, and past calls and results are
    /// written into the messages as text.
    func prompt(_ messages: [ChatMessage], tools: [ToolDefinition]?) -> (messages: [ChatMessage], tools: [JinjaValue]?) {
        guard self == .described else { return (messages, tools.map { $0.map(\.definition.jinjaValue) }) }
        var written = messages.map { message -> ChatMessage in
            if message.role == "tool" {
                return ChatMessage(role: "user", content: "<tool_response>\n\(message.content)\n</tool_response>")
            }
            guard !message.toolCalls.isEmpty else { return message }
            let calls = message.toolCalls.map { call in
                "<tool_call>\n{\"name\": \(SchemaJSON.string(call.name).text), \"arguments\": \(Self.json(call.arguments))}\n</tool_call>"
            }
            return ChatMessage(role: message.role, content: ([message.content].filter { !$0.isEmpty } + calls).joined(separator: "\n"))
        }
        guard let tools else { return (written, nil) }
        let instructions = Self.instructions(tools)
        if let first = written.first, first.role == "system" {
            written[0].content = first.content + "\n\n" + instructions
        } else {
            written.insert(ChatMessage(role: "system", content: instructions), at: 0)
        }
        return (written, nil)
    }

    /// Qwen2.5's own words for its tools, which models trained on Hermes' format follow.
    static func instructions(_ tools: [ToolDefinition]) -> String {
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + tools.map(\.definition.text).joined(separator: "\n")
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
            + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
    }

    /// A template value written back as JSON text (a past call's arguments).
    private static func json(_ value: JinjaValue) -> String {
        switch value {
        case .none: "null"
        case let .bool(flag): flag ? "true" : "false"
        case let .int(number): String(number)
        case let .double(number): String(number)
        case let .string(text): SchemaJSON.string(text).text
        case let .array(items): "[" + items.map(json).joined(separator: ", ") + "]"
        case let .object(object): "{" + object.pairs.map { SchemaJSON.string($0.key).text + ": " + json($0.value) }.joined(separator: ", ") + "}"
        default: "null"
        }
    }

    // MARK: The grammar

    /// The grammar of a reply that is only calls of `tools` (several when `parallel`, except in
    /// Llama's format), each call's arguments following its function's schema.
    func grammar(_ request: ToolRequest) throws(APIError) -> Grammar {
        var text = JSONSchemaGrammar.primitiveRules
        var calls: [String] = []
        for (index, tool) in request.callable.enumerated() {
            let arguments = "tool-\(index)-arguments"
            do { text += try JSONSchemaGrammar.rules(schema: tool.parameters, named: arguments) } catch {
                throw .badRequest("The parameters of tool '\(tool.name)': \(error)", param: "tools")
            }
            let name = JSONSchemaGrammar.literal(SchemaJSON.string(tool.name).text), key = JSONSchemaGrammar.literal(SchemaJSON.string(argumentsKey).text)
            text += "tool-\(index)-call ::= \"{\" space \"\\\"name\\\"\" space \":\" space \(name) space \",\" space \(key) space \":\" space \(arguments) space \"}\"\n"
            calls.append("tool-\(index)-call")
        }
        text += "call ::= " + calls.joined(separator: " | ") + "\n"
        if let tags {
            text += "tagged-call ::= \(JSONSchemaGrammar.literal(tags.open + "\n")) call \(JSONSchemaGrammar.literal("\n" + tags.close))\n"
            text += request.parallel ? "root ::= tagged-call (\"\\n\" tagged-call)*\n" : "root ::= tagged-call\n"
        } else {
            text += "root ::= call\n"
        }
        do { return try GBNFParser.parse(text) } catch { preconditionFailure("tool-call grammar: \(error)\n\(text)") }
    }
}
