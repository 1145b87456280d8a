// A completion's answer as it comes together, and the OpenAI objects made from it: the whole
// response (`chat.completion`, `text_completion`), the streamed chunks, usage and log-probabilities.

import EmberEngine
import EmberTokenizer

struct Reply {
    let job: CompletionJob
    let tokenizer: Tokenizer
    /// The reply's text, less its tool calls.
    private(set) var text = ""
    private(set) var logprobs: [TokenLogprobs] = []
    var statistics: Scheduler.SequenceStatistics?
    /// Takes the tool calls out of the text when the request offers tools.
    private var toolCalls: ToolCallParser?

    init(job: CompletionJob, tokenizer: Tokenizer) {
        self.job = job
        self.tokenizer = tokenizer
        toolCalls = job.toolFormat.map { ToolCallParser(format: $0) }
    }

    /// What one event adds: text, steps of tool calls, and the log-probabilities of its token.
    struct Piece {
        let parsed: ParsedPiece
        let logprobs: TokenLogprobs?

        var isEmpty: Bool { parsed.isEmpty && logprobs == nil }
    }

    @discardableResult
    mutating func add(_ piece: String, logprobs entry: TokenLogprobs?) -> Piece {
        if let entry { logprobs.append(entry) }
        return take(toolCalls?.add(piece) ?? ParsedPiece(content: piece), logprobs: entry)
    }

    /// The end of the text: what the tool-call reader held back.
    @discardableResult
    mutating func finishText() -> Piece {
        take(toolCalls?.finish() ?? ParsedPiece(), logprobs: nil)
    }

    private mutating func take(_ parsed: ParsedPiece, logprobs entry: TokenLogprobs?) -> Piece {
        text += parsed.content
        return Piece(parsed: parsed, logprobs: entry)
    }

    var finishReason: JSONValue {
        switch statistics?.stopReason {
        case .maxTokens?, .contextFull?, .timedOut?: "length"
        case nil: .null
        default: toolCalls?.calls.isEmpty == false ? "tool_calls" : "stop"
        }
    }

    var usage: JSONValue {
        let prompt = statistics?.promptTokens ?? job.prompt.count, completion = statistics?.generatedTokens ?? 0
        // OpenAI's prompt_tokens_details.cached_tokens: the prompt's prefix a slot already held.
        return ["prompt_tokens": .number(Double(prompt)), "completion_tokens": .number(Double(completion)),
                "total_tokens": .number(Double(prompt + completion)),
                "prompt_tokens_details": ["cached_tokens": .number(Double(statistics?.cachedPromptTokens ?? 0))]]
    }

    /// The whole response.
    func object(id: String, created: Int) -> JSONValue {
        let choice: JSONValue = switch job.kind {
        case .chat:
            ["index": 0, "message": message, "logprobs": logprobsObject(logprobs), "finish_reason": finishReason]
        case .text:
            ["index": 0, "text": .string(text), "logprobs": logprobsObject(logprobs), "finish_reason": finishReason]
        }
        return header(id: id, created: created, chunk: false).merging(["choices": [choice], "usage": usage])
    }

    /// The chat reply: its text (null when it is only tool calls) and its calls.
    private var message: JSONValue {
        let calls = toolCalls?.calls ?? []
        guard !calls.isEmpty else { return ["role": "assistant", "content": .string(text)] }
        return ["role": "assistant", "content": text.isEmpty ? .null : .string(text),
                "tool_calls": .array(calls.map { call in
                    ["id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                })]
    }

    /// A streamed chunk with `piece`'s text or tool-call steps: a call's first step carries its index,
    /// id, type and name, the next ones only pieces of its arguments, as OpenAI sends them.
    func chunk(id: String, created: Int, piece: Piece) -> JSONValue {
        let entries = piece.logprobs.map { [$0] } ?? []
        let choice: JSONValue = switch job.kind {
        case .chat:
            ["index": 0, "delta": delta(piece.parsed), "logprobs": logprobsObject(entries), "finish_reason": .null]
        case .text:
            ["index": 0, "text": .string(piece.parsed.content), "logprobs": logprobsObject(entries), "finish_reason": .null]
        }
        return header(id: id, created: created, chunk: true).merging(["choices": [choice]])
    }

    private func delta(_ parsed: ParsedPiece) -> JSONValue {
        guard !parsed.calls.isEmpty else { return ["content": .string(parsed.content)] }
        let steps: [JSONValue] = parsed.calls.map { step in
            guard let id = step.id, let name = step.name else {
                return ["index": .number(Double(step.index)), "function": ["arguments": .string(step.arguments)]]
            }
            return ["index": .number(Double(step.index)), "id": .string(id), "type": "function",
                    "function": ["name": .string(name), "arguments": .string(step.arguments)]]
        }
        return parsed.content.isEmpty ? ["tool_calls": .array(steps)] : ["content": .string(parsed.content), "tool_calls": .array(steps)]
    }

    /// A streamed chat chunk with `delta` (the first one: the role).
    func chunk(id: String, created: Int, delta: JSONValue) -> JSONValue {
        header(id: id, created: created, chunk: true).merging([
            "choices": [["index": 0, "delta": delta, "logprobs": .null, "finish_reason": .null]],
        ])
    }

    /// The chunk that ends the choice, with its finish reason.
    func finalChunk(id: String, created: Int) -> JSONValue {
        let choice: JSONValue = switch job.kind {
        case .chat: ["index": 0, "delta": [:], "logprobs": .null, "finish_reason": finishReason]
        case .text: ["index": 0, "text": "", "logprobs": .null, "finish_reason": finishReason]
        }
        return header(id: id, created: created, chunk: true).merging(["choices": [choice]])
    }

    /// `stream_options.include_usage`: a last chunk with no choices and the usage.
    func usageChunk(id: String, created: Int) -> JSONValue {
        header(id: id, created: created, chunk: true).merging(["choices": [], "usage": usage])
    }

    private func header(id: String, created: Int, chunk: Bool) -> JSONValue {
        let object = switch (job.kind, chunk) {
        case (.chat, false): "chat.completion"
        case (.chat, true): "chat.completion.chunk"
        case (.text, _): "text_completion"
        }
        return ["id": .string(id), "object": .string(object), "created": .number(Double(created)), "model": .string(job.model)]
    }

    /// OpenAI's `logprobs` member: per token for chat, parallel arrays for text completions; null
    /// when the request did not ask for them.
    private func logprobsObject(_ entries: [TokenLogprobs]) -> JSONValue {
        guard job.parameters.logprobs != nil else { return .null }
        func token(_ id: Int32) -> (text: String, bytes: [UInt8]) {
            let bytes = tokenizer.piece(id, renderSpecial: true)
            return (String(decoding: bytes, as: UTF8.self), bytes)
        }
        switch job.kind {
        case .chat:
            return ["content": .array(entries.map { entry in
                let chosen = token(entry.token)
                return ["token": .string(chosen.text), "logprob": .number(Double(entry.logprob)),
                        "bytes": .array(chosen.bytes.map { .number(Double($0)) }),
                        "top_logprobs": .array(entry.top.map { alternative in
                            let text = token(alternative.token)
                            return ["token": .string(text.text), "logprob": .number(Double(alternative.logprob)),
                                    "bytes": .array(text.bytes.map { .number(Double($0)) })]
                        })]
            })]
        case .text:
            return ["tokens": .array(entries.map { .string(token($0.token).text) }),
                    "token_logprobs": .array(entries.map { .number(Double($0.logprob)) }),
                    "top_logprobs": .array(entries.map { entry in
                        .object(Dictionary(entry.top.map { (token($0.token).text, JSONValue.number(Double($0.logprob))) }) { first, _ in first })
                    })]
        }
    }
}

extension JSONValue {
    /// An object with `other`'s members added.
    func merging(_ other: JSONValue) -> JSONValue {
        guard case var .object(mine) = self, case let .object(theirs) = other else { return self }
        mine.merge(theirs) { $1 }
        return .object(mine)
    }
}
