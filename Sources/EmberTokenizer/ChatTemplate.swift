// A model's chat template (`tokenizer.chat_template`, Jinja): parsed once, rendered for each
// conversation with the variables Hugging Face transformers' `apply_chat_template` passes, so the
// prompt matches what the model was trained on byte for byte.

import EmberJinja

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    var jinjaValue: JinjaValue { .object(JinjaObject([("role", .string(role)), ("content", .string(content))])) }
}

public struct ChatTemplate: Sendable {
    public let source: String
    private let template: JinjaTemplate

    /// Parses `source`; a template with a syntax error, an unknown tag, filter or test fails here.
    public init(_ source: String) throws(JinjaError) {
        self.source = source
        template = try JinjaTemplate(source)
    }

    /// The prompt for `messages`. The template sees `messages`, `add_generation_prompt`, `bos_token`,
    /// `eos_token`, `tools` and `documents` (None, as transformers passes them when absent), and then
    /// `extra`, which may add variables or replace any of these.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: JinjaValue] = [:], now: JinjaDateTime = .now()) throws(JinjaError) -> String {
        var context: [String: JinjaValue] = [
            "messages": .array(messages.map(\.jinjaValue)),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "tools": .none,
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
