// One `/v1/chat/completions` or `/v1/completions` request, read and checked: the prompt as tokens
// (chat messages rendered with the model's template), the generation parameters, and how the answer
// is to be sent (whole, or streamed as server-sent events).

import EmberEngine
import EmberGrammar
import EmberTokenizer

struct CompletionJob {
    enum Kind { case chat, text }

    let kind: Kind
    let model: String
    let prompt: [Int32]
    let parameters: GenerationParameters
    let stream: Bool
    let includeUsage: Bool
    /// The request's own time limit (`timeout`, in seconds: Ember's extension), if it set one.
    let timeout: Duration?
    /// How the reply's tool calls are written, when the request offers tools.
    let toolFormat: ToolCallFormat?

    static let chatFields: Set<String> = [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop",
        "presence_penalty", "frequency_penalty", "repeat_penalty", "logprobs", "top_logprobs", "n", "stream", "stream_options", "user",
        "ignore_eos", "timeout", "logit_bias", "response_format", "grammar", "tools", "tool_choice", "parallel_tool_calls",
    ]
    static let textFields: Set<String> = [
        "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "presence_penalty",
        "frequency_penalty", "repeat_penalty", "logprobs", "n", "stream", "stream_options", "user", "ignore_eos", "timeout",
        "logit_bias", "response_format", "grammar",
    ]

    init(_ body: [UInt8], kind: Kind, model served: ServedModel) throws(APIError) {
        let fields = try RequestFields(body, known: kind == .chat ? Self.chatFields : Self.textFields)
        self.kind = kind
        let requested = try fields.string("model") ?? served.name
        guard served.answers(to: requested) else { throw .unknownModel(requested, served: served.name) }
        model = served.name  // the response names the model that answered, whatever the request called it
        if let n = try fields.integer("n", in: 1 ... 128), n != 1 {
            throw .badRequest("'n' must be 1: Ember returns one choice per request", param: "n")
        }
        stream = try fields.bool("stream") ?? false
        let options = try fields.object("stream_options")
        if options != nil && !stream { throw .badRequest("'stream_options' is only allowed with 'stream': true", param: "stream_options") }
        if let options, let unknown = options.keys.first(where: { $0 != "include_usage" }) {
            throw .badRequest("Unsupported stream option '\(unknown)'", param: "stream_options")
        }
        if case .some(.some(let value)) = options?["include_usage"], value != .bool(true), value != .bool(false) {
            throw .badRequest("'stream_options.include_usage' must be true or false", param: "stream_options")
        }
        includeUsage = options?["include_usage"] == .bool(true)
        timeout = try fields.number("timeout", in: 0.001 ... 86_400).map { .milliseconds(Int(($0 * 1000).rounded())) }

        var sampling = SamplingParameters()
        // What the request leaves out: the model's recommendation, else OpenAI's defaults (temperature
        // 1, top_p 1, no top-k or min-p).
        let recommended = served.samplingDefaults
        sampling.temperature = try fields.number("temperature", in: 0 ... 2).map(Float.init) ?? recommended.temperature ?? 1
        sampling.topP = try fields.number("top_p", in: 0 ... 1).map(Float.init) ?? recommended.topP ?? 1
        if sampling.topP == 0 { sampling.topP = Float.leastNonzeroMagnitude }
        sampling.topK = try fields.integer("top_k", in: 0 ... 1_000_000) ?? recommended.topK ?? 0
        sampling.minP = try fields.number("min_p", in: 0 ... 1).map(Float.init) ?? recommended.minP ?? 0
        sampling.presencePenalty = Float(try fields.number("presence_penalty", in: -2 ... 2) ?? 0)
        sampling.frequencyPenalty = Float(try fields.number("frequency_penalty", in: -2 ... 2) ?? 0)
        sampling.repeatPenalty = Float(try fields.number("repeat_penalty", in: 0.01 ... 10) ?? 1)
        sampling.penaltyWindow = -1
        sampling.logitBias = try Self.logitBias(fields.object("logit_bias"), vocabularySize: served.scheduler.model.vocabularySize)
        sampling.seed = try fields.integer("seed", in: Int(Int64.min / 2) ... Int(Int64.max / 2)).map { UInt64(bitPattern: Int64($0)) }

        // `ignore_eos` (llama-server's extension, for benchmarks): generate through end tokens.
        var parameters = GenerationParameters(maxTokens: nil, sampling: sampling, ignoresEndOfGeneration: try fields.bool("ignore_eos") ?? false)
        let limitName = kind == .chat && fields.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens"
        parameters.maxTokens = try fields.integer(limitName, in: 1 ... 1_000_000)
        if kind == .text && parameters.maxTokens == nil { parameters.maxTokens = 16 }  // OpenAI's default for completions
        let stops = try fields.strings("stop") ?? []
        guard stops.count <= 4, stops.allSatisfy({ !$0.isEmpty }) else {
            throw .badRequest("'stop' takes up to 4 non-empty strings", param: "stop")
        }
        parameters.stopStrings = stops
        parameters.grammar = try StructuredOutput.grammar(body: body, fields: fields)
        let tools = kind == .chat ? try ToolRequest.read(body: body, fields: fields) : nil
        if let tools, tools.choice != .none {
            if parameters.grammar != nil {
                throw .badRequest("'tools' cannot be combined with 'response_format' or 'grammar'", param: "tools")
            }
            if tools.mustCall { parameters.grammar = try served.toolFormat.grammar(tools) }
            toolFormat = served.toolFormat
        } else {
            toolFormat = nil
        }
        switch kind {
        case .chat:
            let wanted = try fields.bool("logprobs") ?? false
            let top = try fields.integer("top_logprobs", in: 0 ... 20)
            if top != nil && !wanted { throw .badRequest("'top_logprobs' needs 'logprobs': true", param: "top_logprobs") }
            parameters.logprobs = wanted ? (top ?? 0) : nil
        case .text:
            parameters.logprobs = try fields.integer("logprobs", in: 0 ... 5)
        }
        self.parameters = parameters

        switch kind {
        case .chat:
            guard let messages = try fields.objects("messages"), !messages.isEmpty else {
                throw .badRequest("'messages' must be a non-empty array of messages", param: "messages")
            }
            let conversation = try messages.enumerated().map { index, message throws(APIError) in try Self.message(message, index: index) }
            let written = served.toolFormat.prompt(conversation, tools: tools?.offered)
            prompt = try served.render(written.messages, tools: written.tools)
        case .text:
            guard let prompts = try fields.strings("prompt") else { throw .badRequest("'prompt' is required", param: "prompt") }
            guard prompts.count == 1 else { throw .badRequest("'prompt' must be one string: Ember returns one choice per request", param: "prompt") }
            prompt = served.tokenizer.encode(prompts[0], addSpecial: true, parseSpecial: true)
        }
        guard !prompt.isEmpty else { throw .badRequest("The prompt is empty", param: kind == .chat ? "messages" : "prompt") }
    }

    /// `logit_bias`: token ids (as strings) to a bias in [-100, 100].
    private static func logitBias(_ object: [String: JSONValue]?, vocabularySize: Int) throws(APIError) -> [Int32: Float] {
        var bias: [Int32: Float] = [:]
        for (key, value) in object ?? [:] {
            guard let token = Int32(key), token >= 0, Int(token) < vocabularySize else {
                throw .badRequest("'logit_bias' key '\(key)' is not a token id of this model (0 to \(vocabularySize - 1))", param: "logit_bias")
            }
            guard case let .number(number) = value, (-100 ... 100).contains(number) else {
                throw .badRequest("'logit_bias' value for token \(key) must be a number from -100 to 100", param: "logit_bias")
            }
            bias[token] = Float(number)
        }
        return bias
    }

    /// One chat message: a role Ember's templates know, text content (a string, or text parts), and
    /// an assistant's tool calls or a tool's result.
    private static func message(_ object: [String: JSONValue], index: Int) throws(APIError) -> ChatMessage {
        let param = "messages[\(index)]"
        guard case let .string(role)? = object["role"] else { throw .badRequest("\(param) needs a 'role'", param: param) }
        guard ["system", "developer", "user", "assistant", "tool"].contains(role) else {
            throw .badRequest("\(param) has role '\(role)': Ember supports system, developer, user, assistant and tool", param: param)
        }
        let allowed = switch role {
        case "assistant": ["role", "content", "name", "tool_calls"]
        case "tool": ["role", "content", "name", "tool_call_id"]
        default: ["role", "content", "name"]
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .badRequest("\(param) has '\(unknown)', which Ember does not support", param: param)
        }
        let content: String
        switch object["content"] {
        case let .string(text)?: content = text
        case let .array(parts)?:
            content = try parts.map { (part: JSONValue) throws(APIError) -> String in
                guard case let .object(fields) = part, fields["type"] == .string("text"), case let .string(text)? = fields["text"] else {
                    throw .badRequest("\(param) content parts must be {\"type\": \"text\", \"text\": ...}", param: param)
                }
                return text
            }.joined()
        case .null?, nil: content = ""
        default: throw .badRequest("\(param) content must be a string or an array of text parts", param: param)
        }
        var message = ChatMessage(role: role == "developer" ? "system" : role, content: content)
        switch object["tool_calls"] {
        case nil, .null?: break
        case let .array(calls)?:
            message.toolCalls = try calls.enumerated().map { number, call throws(APIError) in try toolCall(call, param: "\(param).tool_calls[\(number)]") }
        default: throw .badRequest("\(param).tool_calls must be an array of calls", param: param)
        }
        if role == "tool" {
            guard case let .string(id)? = object["tool_call_id"] else {
                throw .badRequest("\(param) is a tool result and needs the 'tool_call_id' of its call", param: param)
            }
            message.toolCallID = id
        }
        if case let .string(name)? = object["name"], role == "tool" { message.name = name }
        return message
    }

    /// An assistant's past call: `{"id", "type": "function", "function": {"name", "arguments"}}`, the
    /// arguments JSON text given to the template as the object it stands for.
    private static func toolCall(_ value: JSONValue, param: String) throws(APIError) -> ChatToolCall {
        guard case let .object(call) = value, case let .object(function)? = call["function"], case let .string(name)? = function["name"],
              case let .string(arguments)? = function["arguments"] else {
            throw .badRequest("\(param) must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}", param: param)
        }
        guard let parsed = try? SchemaJSON.parse(arguments) else {
            throw .badRequest("\(param).function.arguments is not JSON text", param: param)
        }
        let id = if case let .string(id)? = call["id"] { id } else { "" }
        return ChatToolCall(id: id, name: name, arguments: parsed.jinjaValue)
    }
}
