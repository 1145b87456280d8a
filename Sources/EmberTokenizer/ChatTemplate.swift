// A model's chat template (`tokenizer.chat_template`, Jinja): parsed once, rendered for each
// conversation with the variables Hugging Face transformers' `apply_chat_template` passes, so the
// prompt matches what the model was trained on byte for byte.

import EmberJinja

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    /// The calls an assistant message made (OpenAI's `tool_calls`).
    public var toolCalls: [ChatToolCall]
    /// A `tool` message's answer to a call: the call's id, and the function's name when given.
    public var toolCallID: String?
    public var name: String?

    public init(role: String, content: String, toolCalls: [ChatToolCall] = [], toolCallID: String? = nil, name: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
    }

    /// The message as transformers hands it to templates: only the members it has.
    var jinjaValue: JinjaValue {
        var object = JinjaObject([("role", .string(role)), ("content", .string(content))])
        if !toolCalls.isEmpty { object["tool_calls"] = .array(toolCalls.map(\.jinjaValue)) }
        if let toolCallID { object["tool_call_id"] = .string(toolCallID) }
        if let name { object["name"] = .string(name) }
        return .object(object)
    }
}

/// One function call of an assistant message. Templates write `arguments` with `tojson` (Qwen2.5,
/// Llama 3.x), so they are given as the parsed object, not OpenAI's JSON text.
public struct ChatToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    public var arguments: JinjaValue

    public init(id: String, name: String, arguments: JinjaValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    var jinjaValue: JinjaValue {
        .object(JinjaObject([("id", .string(id)), ("type", "function"),
                             ("function", .object(JinjaObject([("name", .string(name)), ("arguments", arguments)])))]))
    }
}

public struct ChatTemplate: Sendable {
    public let source: String
    private let template: JinjaTemplate

    /// Parses `source`; a template with a syntax error, an unknown tag, filter or test fails here.
    public init(_ source: String) throws(JinjaError) {
        self.source = source
        template = try JinjaTemplate(source)
    }

    /// Whether the template renders the `tools` it is given (its own tool-call format).
    public var rendersTools: Bool { source.contains("tools") }

    /// The prompt for `messages`. The template sees `messages`, `add_generation_prompt`, `bos_token`,
    /// `eos_token`, `tools` (the request's tool definitions; None when there are none) and `documents`
    /// (None, as transformers passes it when absent), and then `extra`, which may add variables or
    /// replace any of these.
    public func render(messages: [ChatMessage], tools: [JinjaValue]? = nil, addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: JinjaValue] = [:], now: JinjaDateTime = .now()) throws(JinjaError) -> String {
        var context: [String: JinjaValue] = [
            "messages": .array(messages.map(\.jinjaValue)),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "tools": tools.map { .array($0) } ?? .none,
            "documents": .none,
        ]
        context.merge(extra) { _, new in new }
        return try render(context: context, now: now)
    }

    /// The template rendered with exactly the variables in `context`; `now` is what `strftime_now` formats.
    public func render(context: [String: JinjaValue], now: JinjaDateTime = .now()) throws(JinjaError) -> String {
        try template.render(context: context, now: now)
    }
}
