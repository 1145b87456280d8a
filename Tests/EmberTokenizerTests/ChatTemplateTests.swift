// ChatTemplate against jinja2: the real chat templates of SmolLM2, Llama 3.2, Mistral Nemo, Qwen2.5,
// Gemma 3, Qwen3 (with enable_thinking) and Phi-3.5 (Fixtures/chat_templates/*.jinja) rendered for
// many conversations must match, byte for byte, what jinja2 rendered in transformers' environment
// (goldens.json, made by scripts/goldens/make_chat_template_goldens.py), including which
// conversations a template rejects.

import EmberJinja
import EmberTokenizer
import Foundation
import Testing

@Suite struct ChatTemplateTests {
    @Test(arguments: ["smollm2", "llama3", "mistral", "qwen2.5", "gemma3", "qwen3", "phi3"])
    func realTemplateMatchesJinja2(name: String) throws {
        let goldens = try ChatTemplateGoldens.load()
        let entry = try #require(goldens.templates[name])
        let template = try ChatTemplate(try ChatTemplateGoldens.text(entry.file))
        let cases = goldens.cases.filter { $0.template == name }
        try #require(cases.count >= 16)
        for item in cases {
            let label = "\(name) \(item.name) add_generation_prompt=\(item.addGenerationPrompt)"
            let result = Result { () throws(JinjaError) -> String in
                if let context = item.context {
                    return try template.render(context: context.dictionary, now: goldens.now.dateTime)
                }
                return try template.render(messages: item.messages ?? [], addGenerationPrompt: item.addGenerationPrompt,
                                           bosToken: entry.bos, eosToken: entry.eos, now: goldens.now.dateTime)
            }
            switch (result, item.output, item.raised) {
            case let (.success(output), expected?, _):
                #expect(output == expected, "\(label)")
            case let (.failure(error), _, raised?):
                #expect(error == .raised(raised), "\(label)")
            case let (.failure(error), nil, nil):
                // jinja2 failed on its own (e.g. `messages[0]['role']` with no messages); so must Ember.
                #expect(error.isRuntimeError, "\(label): \(error) where jinja2 said \(item.error ?? "")")
            case let (.success(output), nil, _):
                Issue.record("\(label) rendered \(output.debugDescription) where jinja2 failed: \(item.error ?? item.raised ?? "")")
            case let (.failure(error), _, nil):
                Issue.record("\(label) failed with \(error) where jinja2 rendered \(item.output?.debugDescription ?? "")")
            }
        }
    }

    @Test func goldensCoverEveryTemplateAndOutcome() throws {
        let goldens = try ChatTemplateGoldens.load()
        #expect(Set(goldens.cases.map(\.template)) == Set(goldens.templates.keys))
        #expect(goldens.cases.count >= 100)
        #expect(goldens.cases.contains { $0.raised != nil })
        #expect(goldens.cases.contains { $0.error != nil })
        #expect(goldens.cases.contains { $0.context != nil && $0.output != nil })
    }

    @Test func smolLM2FixtureIsTheModelsOwnTemplate() throws {
        let metadata = try Fixtures.smolLM2()
        #expect(try metadata.string("tokenizer.chat_template") == ChatTemplateGoldens.text("HuggingFaceTB-SmolLM2-135M-Instruct.jinja"))
    }

    @Test func renderingTakesTheInjectedDate() throws {
        let template = try ChatTemplate(try ChatTemplateGoldens.text("meta-llama-Llama-3.2-3B-Instruct.jinja"))
        let output = try template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true,
                                         bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>",
                                         now: JinjaDateTime(year: 2031, month: 12, day: 5))
        #expect(output.contains("Today Date: 05 Dec 2031\n"))
    }

    @Test func extraVariablesReachTheTemplate() throws {
        let template = try ChatTemplate(try ChatTemplateGoldens.text("meta-llama-Llama-3.2-3B-Instruct.jinja"))
        let output = try template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false,
                                         bosToken: "<B>", eosToken: "<E>", extra: ["date_string": "29 Feb 2028"])
        #expect(output == "<B><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            + "Today Date: 29 Feb 2028\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
    }

    /// Every prefix of every real template either parses or fails with a JinjaError; the ones that parse
    /// render or fail the same way. None may crash.
    @Test func truncatedTemplatesNeverCrash() throws {
        let files = ["HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "meta-llama-Llama-3.2-3B-Instruct.jinja",
                     "mistralai-Mistral-Nemo-Instruct-2407.jinja", "Qwen-Qwen2.5-7B-Instruct.jinja",
                     "google-gemma-3-4b-it.jinja", "Qwen-Qwen3-0.6B.jinja", "microsoft-Phi-3.5-mini-instruct.jinja"]
        var parsed = 0
        var failed = 0
        for file in files {
            let scalars = Array(try ChatTemplateGoldens.text(file).unicodeScalars)
            for end in stride(from: 0, to: scalars.count, by: 5) {
                var source = String()
                source.unicodeScalars.append(contentsOf: scalars[..<end])
                do {
                    let template = try ChatTemplate(source)
                    parsed += 1
                    _ = try? template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true,
                                             bosToken: "<s>", eosToken: "</s>")
                } catch {
                    failed += 1
                }
            }
        }
        #expect(parsed > 10)
        #expect(failed > 500)
    }
}

extension JinjaError {
    var isRuntimeError: Bool {
        switch self {
        case .type, .undefined, .arithmetic: true
        case .syntax, .raised: false
        }
    }
}

/// goldens.json: jinja2's renderings of every fixture template.
struct ChatTemplateGoldens: Decodable {
    struct Now: Decodable {
        let year, month, day, hour, minute, second: Int
        var dateTime: JinjaDateTime {
            JinjaDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        }
    }

    struct Template: Decodable {
        let file: String
        let bos: String
        let eos: String
    }

    struct Message: Decodable {
        let role: String
        let content: String
    }

    struct Case: Decodable {
        let template: String
        let name: String
        let addGenerationPrompt: Bool
        /// Plain conversations, rendered through `render(messages:...)`.
        let messages: [ChatMessage]?
        /// Every variable, for conversations with tool calls or content parts: `render(context:)`.
        let context: TaggedValue?
        let output: String?
        /// The message of the template's `raise_exception`.
        let raised: String?
        /// jinja2's own error, for templates that fail without raise_exception.
        let error: String?

        enum CodingKeys: String, CodingKey {
            case template, name, addGenerationPrompt = "add_generation_prompt", messages, context, output, raised, error
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            template = try container.decode(String.self, forKey: .template)
            name = try container.decode(String.self, forKey: .name)
            addGenerationPrompt = try container.decode(Bool.self, forKey: .addGenerationPrompt)
            messages = try container.decodeIfPresent([Message].self, forKey: .messages)?
                .map { ChatMessage(role: $0.role, content: $0.content) }
            context = try container.decodeIfPresent(TaggedValue.self, forKey: .context)
            output = try container.decodeIfPresent(String.self, forKey: .output)
            raised = try container.decodeIfPresent(String.self, forKey: .raised)
            error = try container.decodeIfPresent(String.self, forKey: .error)
        }
    }

    let now: Now
    let templates: [String: Template]
    let cases: [Case]

    static func load() throws -> ChatTemplateGoldens {
        try JSONDecoder().decode(ChatTemplateGoldens.self, from: Data(contentsOf: url("goldens.json")))
    }

    static func text(_ file: String) throws -> String {
        try String(decoding: Data(contentsOf: url(file)), as: UTF8.self)
    }

    static func url(_ file: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: file, withExtension: nil, subdirectory: "Fixtures/chat_templates")
        else { throw FixtureError.missing("chat_templates/\(file)") }
        return url
    }
}

/// A value as the golden script writes it, `{"string": "x"}`, `{"object": [["key", value], ...]}`, ...,
/// so that dict order and the int/float/bool distinction survive JSON.
struct TaggedValue: Decodable {
    let value: JinjaValue

    private enum Tag: String, CodingKey {
        case none, bool, int, double, string, array, object
    }

    private struct Pair: Decodable {
        let key: String
        let value: TaggedValue

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            key = try container.decode(String.self)
            value = try container.decode(TaggedValue.self)
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Tag.self)
        guard let tag = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "untagged value"))
        }
        switch tag {
        case .none: value = .none
        case .bool: value = .bool(try container.decode(Bool.self, forKey: tag))
        case .int: value = .int(try container.decode(Int.self, forKey: tag))
        case .double: value = .double(try container.decode(Double.self, forKey: tag))
        case .string: value = .string(try container.decode(String.self, forKey: tag))
        case .array: value = .array(try container.decode([TaggedValue].self, forKey: tag).map(\.value))
        case .object:
            value = .object(JinjaObject(try container.decode([Pair].self, forKey: tag).map { ($0.key, $0.value.value) }))
        }
    }

    var dictionary: [String: JinjaValue] {
        guard case let .object(object) = value else { return [:] }
        return Dictionary(uniqueKeysWithValues: object.pairs.map { ($0.key, $0.value) })
    }
}
