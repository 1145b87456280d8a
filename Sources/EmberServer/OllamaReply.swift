// An Ollama answer as it comes together: the text (less any tool calls, which come out whole), and
// the objects Ollama sends: a line per piece while it
// streams, and the last one with `done`, why it stopped and the timings in nanoseconds.

import EmberEngine
import Foundation

struct OllamaReply {
    let job: OllamaJob
    let model: String
    private(set) var text = ""
    private var toolCalls: ToolCallParser?
    var statistics: Scheduler.SequenceStatistics?

    init(job: OllamaJob, model: String) {
        self.job = job
        self.model = model
        toolCalls = job.toolFormat.map { ToolCallParser(format: $0) }
    }

    /// Takes one event's text; the text to show now.
    mutating func add(_ piece: String) -> String {
        let content = toolCalls?.add(piece).content ?? piece
        text += content
        return content
    }

    /// What the tool-call reader held back at the end.
    mutating func finish() -> String {
        let content = toolCalls?.finish().content ?? ""
        text += content
        return content
    }

    /// The calls the reply made, as Ollama writes them: arguments as an object.
    var calls: [JSONValue] {
        (toolCalls?.calls ?? []).map { call in
            let arguments = (try? JSONDecoder().decode(JSONValue.self, from: Data(call.arguments.utf8))) ?? .object([:])
            return ["function": ["name": .string(call.name), "arguments": arguments]]
        }
    }

    private static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A time (now, by default) as Ollama writes `created_at`.
    static func timestamp(_ date: Date = Date()) -> String { timeFormat.format(date) }

    /// A streamed line with `content`.
    func chunk(_ content: String, calls: [JSONValue] = []) -> JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "created_at": .string(Self.timestamp()), "done": false]
        switch job.kind {
        case .chat:
            var message: [String: JSONValue] = ["role": "assistant", "content": .string(content)]
            if !calls.isEmpty { message["tool_calls"] = .array(calls) }
            object["message"] = .object(message)
        case .generate: object["response"] = .string(content)
        }
        return .object(object)
    }

    /// The last object: the whole text when not streamed (`whole`), why it stopped and what it cost.
    func final(whole: Bool, elapsed: Duration) -> JSONValue {
        guard case let .object(base) = chunk(whole ? text : "", calls: whole ? calls : []) else { return .null }
        var object = base
        object["done"] = true
        object["done_reason"] = switch statistics?.stopReason {
        case .maxTokens?, .contextFull?, .timedOut?: "length"
        default: "stop"
        }
        func nanoseconds(_ duration: Duration) -> JSONValue { .number((duration.seconds * 1e9).rounded()) }
        object["total_duration"] = nanoseconds(elapsed)
        object["load_duration"] = 0
        object["prompt_eval_count"] = .number(Double(statistics?.promptTokens ?? job.prompt.count))
        object["prompt_eval_duration"] = nanoseconds((statistics?.timeToFirstToken ?? .zero) - (statistics?.queueTime ?? .zero))
        object["eval_count"] = .number(Double(statistics?.generatedTokens ?? 0))
        object["eval_duration"] = nanoseconds(statistics?.decodeTime ?? .zero)
        // /api/generate's `context`: the prompt and the reply, to send back for a continuation.
        if job.kind == .generate { object["context"] = .array((job.prompt + (statistics?.generated ?? [])).map { .number(Double($0)) }) }
        return .object(object)
    }

    /// The answer to a request that only loads the model (already loaded).
    static func loaded(_ job: OllamaJob, model: String) -> JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "created_at": .string(timestamp()), "done": true, "done_reason": "load"]
        switch job.kind {
        case .chat: object["message"] = ["role": "assistant", "content": ""]
        case .generate: object["response"] = ""
        }
        return .object(object)
    }
}
