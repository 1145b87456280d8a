// One Ollama `/api/chat` or `/api/generate` request, read and checked: the prompt as tokens (chat
// messages, or a prompt and system text, rendered with the model's template; `raw` prompts as they
// are; a `context` from an earlier answer in front), Ollama's `options` mapped to Ember's sampling,
// `format` (json or a schema) as a grammar, and whether the answer streams (Ollama's default).
// Every option that would change the output and that Ember cannot apply is a 400 naming it; options
// that only tune Ollama's runtime (threads, GPU layers, batch size) are accepted and have no effect.

import EmberEngine
import EmberGrammar
import EmberTokenizer
import Foundation

struct OllamaJob {
    enum Kind { case chat, generate }

    let kind: Kind
    let prompt: [Int32]
    let parameters: GenerationParameters
    let stream: Bool
    /// A generate request without a prompt: Ollama's way to load a model; answered at once.
    let loadOnly: Bool
    /// How the reply's tool calls are written, when the request offers tools.
    let toolFormat: ToolCallFormat?

    static let chatFields: Set<String> = ["model", "messages", "tools", "format", "options", "stream", "keep_alive", "think"]
    static let generateFields: Set<String> = [
        "model", "prompt", "suffix", "images", "format", "options", "system", "template", "stream", "raw", "keep_alive", "context", "think",
    ]
    /// Options that tune how Ollama runs a model, not what it writes: accepted, without effect.
    static let runtimeOptions: Set<String> = [
        "num_thread", "num_gpu", "main_gpu", "num_batch", "use_mmap", "use_mlock", "numa", "low_vram", "num_keep", "vocab_only", "f16_kv",
        "logits_all", "penalize_newline",
    ]
    static let samplingOptions: Set<String> = [
        "num_ctx", "num_predict", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "presence_penalty",
        "frequency_penalty", "seed", "stop", "typical_p", "tfs_z", "mirostat", "mirostat_tau", "mirostat_eta",
    ]

    init(_ body: [UInt8], kind: Kind, model served: ServedModel) throws(APIError) {
        let fields = try RequestFields(body, known: kind == .chat ? Self.chatFields : Self.generateFields)
        self.kind = kind
        try Self.checkModel(fields.string("model"), served: served)
        stream = try fields.bool("stream") ?? true
        try Self.checkKeepAlive(fields.value("keep_alive"))
        if try fields.bool("think") == true {
            throw .badRequest("'think': this model does not think (it has no reasoning mode)", param: "think")
        }
        let options = try RequestFields(object: fields.object("options") ?? [:], known: Self.samplingOptions.union(Self.runtimeOptions),
                                        prefix: "options.")
        var parameters = try Self.parameters(options, served: served)
        parameters.grammar = try Self.grammar(body: body, format: fields.value("format"))
        // Ollama's clients send `"tools": []` (or null) for no tools.
        let offersTools = if case let .array(items)? = fields.value("tools") { !items.isEmpty } else { false }
        let tools = kind == .chat && offersTools ? try ToolRequest.read(body: body, fields: fields) : nil
        if tools != nil && parameters.grammar != nil { throw .badRequest("'tools' cannot be combined with 'format'", param: "tools") }
        toolFormat = tools.map { _ in served.toolFormat }

        switch kind {
        case .chat:
            guard let messages = try fields.objects("messages") else { throw .badRequest("'messages' is required", param: "messages") }
            let conversation = try messages.enumerated().map { index, message throws(APIError) in try Self.message(message, index: index) }
            let written = served.toolFormat.prompt(conversation, tools: tools?.offered)
            // Ollama loads the model when the messages are empty; so does this, at once.
            loadOnly = messages.isEmpty
            prompt = loadOnly ? [] : try served.render(written.messages, tools: written.tools)
        case .generate:
            for unsupported in ["suffix", "images", "template"] where fields.has(unsupported) {
                throw .badRequest(Self.unsupportedGenerateField[unsupported]!, param: unsupported)
            }
            let text = try fields.string("prompt") ?? ""
            let context = try Self.context(fields.value("context"), vocabularySize: served.scheduler.model.vocabularySize)
            loadOnly = text.isEmpty && context.isEmpty
            if try fields.bool("raw") == true {
                if fields.has("system") { throw .badRequest("'system' has no place in a 'raw' prompt: write it into the prompt", param: "system") }
                prompt = context + served.tokenizer.encode(text, addSpecial: context.isEmpty, parseSpecial: true)
            } else if loadOnly {
                prompt = []
            } else {
                var messages: [ChatMessage] = []
                if let system = try fields.string("system") { messages.append(ChatMessage(role: "system", content: system)) }
                messages.append(ChatMessage(role: "user", content: text))
                prompt = context + (try served.render(messages, tools: nil))
            }
        }
        if let limit = try options.integer("num_ctx", in: 1 ... 10_000_000), !loadOnly {
            // The slots' size is fixed when the server starts; a smaller num_ctx limits this request.
            guard prompt.count < limit else {
                throw .badRequest("The prompt is \(prompt.count) tokens, but options.num_ctx is \(limit)", param: "options.num_ctx")
            }
            parameters.maxTokens = min(parameters.maxTokens ?? .max, limit - prompt.count)
        }
        self.parameters = parameters
    }

    static let unsupportedGenerateField = [
        "suffix": "'suffix' (fill in the middle) is not supported: Ember's models have no infill template",
        "images": "'images': this model reads text only",
        "template": "'template': Ember uses the model's own chat template (ember serve --chat-template-file replaces it for every request)",
    ]

    /// Any name is answered by the one model served unless it runs with --strict-model-name; Ollama's
    /// `:latest` tag names the model itself.
    static func checkModel(_ requested: String?, served: ServedModel) throws(APIError) {
        guard let requested, !requested.isEmpty else { throw .badRequest("'model' is required", param: "model") }
        let name = requested.hasSuffix(":latest") ? String(requested.dropLast(7)) : requested
        guard served.answers(to: name) || served.answers(to: requested) else { throw .unknownModel(requested, served: served.name) }
    }

    /// `keep_alive`: seconds, or a duration such as "5m", "1h30m", "-1" or "0". The model stays
    /// loaded for as long as `ember serve` runs, whatever it says; one that is not a duration is a 400.
    static func checkKeepAlive(_ value: JSONValue?) throws(APIError) {
        switch value {
        case nil, .null?, .number?: return
        case let .string(text)?:
            let valid = Double(text) != nil || text.wholeMatch(of: /-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+/) != nil
            if valid { return }
        default: break
        }
        throw .badRequest("'keep_alive' must be seconds or a duration such as \"5m\" or \"1h\"", param: "keep_alive")
    }

    /// Ollama's options as Ember's generation parameters. What a request leaves out comes from the
    /// model's recommendation, else Ollama's defaults (temperature 0.8, top_k 40, top_p 0.9, repeat
    /// penalty 1.1 over the last 64 tokens).
    static func parameters(_ options: RequestFields, served: ServedModel) throws(APIError) -> GenerationParameters {
        if let mirostat = try options.integer("mirostat", in: 0 ... 2), mirostat != 0 {
            throw .badRequest("'options.mirostat' sampling is not supported: use temperature, top_k, top_p and min_p", param: "options.mirostat")
        }
        for (name, neutral) in [("typical_p", 1.0), ("tfs_z", 1.0)] {
            if let value = try options.number(name, in: 0 ... 1e9), value != neutral {
                throw .badRequest("'options.\(name)' is not supported (only \(neutral), its off value)", param: "options.\(name)")
            }
        }
        _ = try options.number("mirostat_tau", in: 0 ... 1e9)
        _ = try options.number("mirostat_eta", in: 0 ... 1e9)

        let recommended = served.samplingDefaults
        var sampling = SamplingParameters()
        sampling.temperature = try options.number("temperature", in: 0 ... 100).map(Float.init) ?? recommended.temperature ?? 0.8
        sampling.topK = try options.integer("top_k", in: -1 ... 1_000_000).map { max($0, 0) } ?? recommended.topK ?? 40
        sampling.topP = try options.number("top_p", in: 0 ... 1).map(Float.init) ?? recommended.topP ?? 0.9
        if sampling.topP == 0 { sampling.topP = Float.leastNonzeroMagnitude }
        sampling.minP = try options.number("min_p", in: 0 ... 1).map(Float.init) ?? recommended.minP ?? 0
        sampling.repeatPenalty = Float(try options.number("repeat_penalty", in: 0 ... 10) ?? 1.1)
        if sampling.repeatPenalty == 0 { sampling.repeatPenalty = 1 }  // Ollama's 0: off
        sampling.penaltyWindow = try options.integer("repeat_last_n", in: -1 ... 1_000_000) ?? 64
        sampling.presencePenalty = Float(try options.number("presence_penalty", in: -2 ... 2) ?? 0)
        sampling.frequencyPenalty = Float(try options.number("frequency_penalty", in: -2 ... 2) ?? 0)
        if let seed = try options.integer("seed", in: Int(Int64.min / 2) ... Int(Int64.max / 2)), seed >= 0 {
            sampling.seed = UInt64(seed)
        }
        var parameters = GenerationParameters(maxTokens: nil, sampling: sampling)
        // num_predict: -1 (Ollama's default) until the model ends, -2 until the context is full.
        switch try options.integer("num_predict", in: -2 ... 1_000_000) {
        case nil, -1, -2: parameters.maxTokens = nil
        case 0: throw .badRequest("'options.num_predict' must be a positive count, -1 (no limit) or -2 (fill the context)", param: "options.num_predict")
        case let count?: parameters.maxTokens = count
        }
        let stops = try options.strings("stop") ?? []
        guard stops.allSatisfy({ !$0.isEmpty }) else { throw .badRequest("'options.stop' strings must not be empty", param: "options.stop") }
        parameters.stopStrings = stops
        return parameters
    }

    /// `format`: "json" (as Ollama, any JSON object) or a JSON schema.
    static func grammar(body: [UInt8], format: JSONValue?) throws(APIError) -> Grammar? {
        switch format {
        case nil, .null?, .string("")?: return nil
        case .string("json")?: return StructuredOutput.anyObject
        case .object?: return try StructuredOutput.schemaGrammar(body: body, at: ["format"], param: "format")
        default:
            throw .badRequest("'format' must be \"json\" or a JSON schema object", param: "format")
        }
    }

    /// `context`: the token ids an earlier /api/generate answer returned.
    static func context(_ value: JSONValue?, vocabularySize: Int) throws(APIError) -> [Int32] {
        switch value {
        case nil, .null?: return []
        case let .array(elements)?:
            return try elements.map { (element: JSONValue) throws(APIError) -> Int32 in
                guard case let .number(number) = element, number == number.rounded(), number >= 0, number < Double(vocabularySize) else {
                    throw .badRequest("'context' must hold token ids of this model (0 to \(vocabularySize - 1))", param: "context")
                }
                return Int32(number)
            }
        default: throw .badRequest("'context' must be an array of token ids", param: "context")
        }
    }

    /// One chat message: {"role", "content", "tool_calls"?, "tool_name"?}; images are refused.
    static func message(_ object: [String: JSONValue], index: Int) throws(APIError) -> ChatMessage {
        let param = "messages[\(index)]"
        guard case let .string(role)? = object["role"] else { throw .badRequest("\(param) needs a 'role'", param: param) }
        guard ["system", "user", "assistant", "tool"].contains(role) else {
            throw .badRequest("\(param) has role '\(role)': Ember supports system, user, assistant and tool", param: param)
        }
        if let images = object["images"], images != .null, images != .array([]) {
            throw .badRequest("\(param) has images: this model reads text only", param: param)
        }
        if let unknown = object.keys.sorted().first(where: { !["role", "content", "images", "tool_calls", "tool_name", "thinking"].contains($0) }) {
            throw .badRequest("\(param) has '\(unknown)', which Ember does not support", param: param)
        }
        let content: String
        switch object["content"] {
        case let .string(text)?: content = text
        case .null?, nil: content = ""
        default: throw .badRequest("\(param) content must be a string", param: param)
        }
        var message = ChatMessage(role: role, content: content)
        if case let .string(name)? = object["tool_name"] { message.name = name }
        switch object["tool_calls"] {
        case nil, .null?: break
        case let .array(calls)?:
            message.toolCalls = try calls.enumerated().map { number, call throws(APIError) in
                let where_ = "\(param).tool_calls[\(number)]"
                guard case let .object(fields) = call, case let .object(function)? = fields["function"], case let .string(name)? = function["name"],
                      let arguments = function["arguments"], let parsed = try? SchemaJSON.parse(String(decoding: arguments.bytes, as: UTF8.self)) else {
                    throw .badRequest("\(where_) must be {\"function\": {\"name\", \"arguments\": {...}}}", param: param)
                }
                return ChatToolCall(id: "", name: name, arguments: parsed.jinjaValue)
            }
        default: throw .badRequest("\(param).tool_calls must be an array of calls", param: param)
        }
        return message
    }
}
