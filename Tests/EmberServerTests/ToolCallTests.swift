// Tool calls: the format read from each real chat template, the reply read into content and calls
// (whole and piece by piece, which must agree), the grammar that makes a reply a valid call, and
// the prompt written for a template without tools.

@testable import EmberServer
import EmberGrammar
import EmberJinja
import EmberTokenizer
import Foundation
import Testing

private func template(_ name: String) throws -> ChatTemplate {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EmberTokenizerTests/Fixtures/chat_templates/\(name).jinja")
    return try ChatTemplate(try String(contentsOf: url, encoding: .utf8))
}

private func tools(_ json: String, choice: String = "\"auto\"", parallel: Bool = true) throws -> ToolRequest {
    let body = Array("{\"tools\": \(json), \"tool_choice\": \(choice), \"parallel_tool_calls\": \(parallel)}".utf8)
    let fields = try RequestFields(body, known: ["tools", "tool_choice", "parallel_tool_calls"])
    return try #require(try ToolRequest.read(body: body, fields: fields))
}

private let weather = #"""
[{"type": "function", "function": {"name": "get_weather", "description": "The weather now",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}]
"""#

/// The reply read whole, and read one character at a time: both must give the same calls and text.
private func read(_ text: String, _ format: ToolCallFormat) -> (content: String, calls: [ToolCallParser.Call]) {
    var whole = ToolCallParser(format: format, makeID: { "call_x" })
    var content = whole.add(text).content + whole.finish().content

    var streamed = ToolCallParser(format: format, makeID: { "call_x" })
    var streamedContent = "", arguments: [Int: String] = [:], names: [Int: String] = [:]
    for piece in text.map(String.init) + [nil] {
        let parsed = piece.map { streamed.add($0) } ?? streamed.finish()
        streamedContent += parsed.content
        for step in parsed.calls {
            if let name = step.name { #expect(names[step.index] == nil); names[step.index] = name }
            #expect(names[step.index] != nil, "a call's arguments come after its name")
            arguments[step.index, default: ""] += step.arguments
        }
    }
    #expect(streamedContent == content)
    #expect(streamed.calls == whole.calls)
    #expect(whole.calls.indices.map { names[$0] } == whole.calls.map(\.name))
    #expect(whole.calls.indices.map { arguments[$0] } == whole.calls.map(\.arguments))
    content = content.trimmingCharacters(in: .whitespacesAndNewlines)
    return (content, whole.calls)
}

struct ToolCallTests {
    @Test func formatsFollowTheTemplates() throws {
        #expect(ToolCallFormat(template: try template("Qwen-Qwen2.5-7B-Instruct")) == .hermes)
        #expect(ToolCallFormat(template: try template("Qwen-Qwen3-0.6B")) == .hermes)
        #expect(ToolCallFormat(template: try template("meta-llama-Llama-3.2-3B-Instruct")) == .llama3)
        #expect(ToolCallFormat(template: try template("HuggingFaceTB-SmolLM2-135M-Instruct")) == .described)
        #expect(ToolCallFormat(template: try template("google-gemma-3-4b-it")) == .described)
    }

    @Test func hermesCallsAreTakenOutOfTheText() {
        let reply = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"Europe/Paris\"}}\n</tool_call>"
        let (content, calls) = read(reply, .hermes)
        #expect(content == "Let me check.")
        #expect(calls.map(\.name) == ["get_weather", "get_time"])
        #expect(calls.map(\.arguments) == [#"{"city": "Paris", "unit": "c"}"#, #"{"zone": "Europe/Paris"}"#])
    }

    @Test func textThatOnlyLooksLikeATagStaysText() {
        let (content, calls) = read("Use <tool> or <tool_ca and a < b.", .hermes)
        #expect(content == "Use <tool> or <tool_ca and a < b.")
        #expect(calls.isEmpty)
    }

    @Test func aCallThatDoesNotParseStaysText() {
        let (content, calls) = read("<tool_call>\nnot json\n</tool_call> after", .hermes)
        #expect(content == "<tool_call>\nnot json\n</tool_call> after")
        #expect(calls.isEmpty)
    }

    @Test func aReplyMayEndWithoutTheClosingTag() {
        let (content, calls) = read("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}", .described)
        #expect(content.isEmpty)
        #expect(calls.map(\.arguments) == [#"{"zone": "UTC"}"#])
    }

    @Test func argumentsWrittenAsTextAreDecoded() {
        let (_, calls) = read(#"<tool_call>{"arguments": "{\"zone\": \"UTC\"}", "name": "get_time"}</tool_call>"#, .hermes)
        #expect(calls.map(\.name) == ["get_time"])
        #expect(calls.map(\.arguments) == [#"{"zone": "UTC"}"#])
    }

    @Test func llamaCallsAreTheWholeReply() {
        let (content, calls) = read(#"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#, .llama3)
        #expect(content.isEmpty)
        #expect(calls.map(\.name) == ["get_weather"])
        #expect(calls.map(\.arguments) == [#"{"city": "Oslo"}"#])
        let (text, none) = read("  It is sunny {\"name\": 1}", .llama3)
        #expect(text == "It is sunny {\"name\": 1}")
        #expect(none.isEmpty)
    }

    @Test func theGrammarAllowsOnlyCallsOfTheOfferedTools() throws {
        let request = try tools(weather, choice: "\"required\"")
        let grammar = try ToolCallFormat.hermes.grammar(request)
        func accepts(_ text: String) -> Bool { grammar.advance(grammar.initialState, by: text.utf8).isComplete }
        #expect(accepts("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"))
        #expect(accepts("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\", \"unit\": \"f\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"zone\":\"UTC\"}}\n</tool_call>"))
        #expect(!accepts("<tool_call>\n{\"name\": \"get_news\", \"arguments\": {}}\n</tool_call>"))
        #expect(!accepts("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"unit\": \"f\"}}\n</tool_call>"))
        #expect(!accepts("Sure! <tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>"))

        let one = try ToolCallFormat.hermes.grammar(try tools(weather, choice: #"{"type": "function", "function": {"name": "get_time"}}"#, parallel: false))
        func acceptsOne(_ text: String) -> Bool { one.advance(one.initialState, by: text.utf8).isComplete }
        #expect(acceptsOne("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>"))
        #expect(!acceptsOne("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"))
        #expect(!acceptsOne("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>"))

        let llama = try ToolCallFormat.llama3.grammar(request)
        #expect(llama.advance(llama.initialState, by: #"{"name": "get_time", "parameters": {"zone": "UTC"}}"#.utf8).isComplete)
    }

    @Test func toolRequestsAreChecked() throws {
        func refusal(_ json: String, choice: String = "\"auto\"") -> String? {
            do { _ = try tools(json, choice: choice); return nil } catch { return "\(error)" }
        }
        #expect(refusal("[]")?.contains("non-empty array") == true)
        #expect(refusal(#"[{"type": "function", "function": {"name": "bad name"}}]"#)?.contains("letters, digits") == true)
        #expect(refusal(#"[{"type": "retrieval"}]"#)?.contains("tools[0]") == true)
        #expect(refusal(weather, choice: #"{"type": "function", "function": {"name": "nope"}}"#)?.contains("'nope'") == true)
        #expect(refusal(weather, choice: "\"sometimes\"")?.contains("tool_choice") == true)
        let unsupported = try tools(#"[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string", "pattern": "x+"}}}}}]"#,
                                    choice: "\"required\"")
        #expect(throws: APIError.self) { try ToolCallFormat.hermes.grammar(unsupported) }
    }

    @Test func aTemplateWithoutToolsGetsThemDescribed() throws {
        let request = try tools(weather)
        let conversation = [
            ChatMessage(role: "system", content: "Be brief."),
            ChatMessage(role: "user", content: "Weather in Rome?"),
            ChatMessage(role: "assistant", content: "", toolCalls: [ChatToolCall(id: "call_1", name: "get_weather",
                                                                                 arguments: .object(JinjaObject([("city", .string("Rome"))])))]),
            ChatMessage(role: "tool", content: "22 C", toolCallID: "call_1"),
        ]
        let written = ToolCallFormat.described.prompt(conversation, tools: request.offered)
        #expect(written.tools == nil)
        #expect(written.messages[0].content.hasPrefix("Be brief.\n\n# Tools"))
        #expect(written.messages[0].content.contains(#"{"type":"function","function":{"name":"get_weather""#))
        #expect(written.messages[2].content == "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>")
        #expect(written.messages[3] == ChatMessage(role: "user", content: "<tool_response>\n22 C\n</tool_response>"))

        let qwen = ToolCallFormat.hermes.prompt(conversation, tools: request.offered)
        #expect(qwen.messages == conversation)
        let rendered = try template("Qwen-Qwen2.5-7B-Instruct").render(messages: qwen.messages, tools: qwen.tools, addGenerationPrompt: true,
                                                                         bosToken: "", eosToken: "")
        #expect(rendered.contains(#"{"type": "function", "function": {"name": "get_weather", "description": "The weather now""#))
        #expect(rendered.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"))
        #expect(rendered.contains("<tool_response>\n22 C\n</tool_response>"))
    }
}
