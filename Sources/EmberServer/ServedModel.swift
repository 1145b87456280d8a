// The model a server runs: its names, its tokenizer and chat template, and the scheduler that batches
// every request onto it.

import EmberEngine
import EmberJinja
import EmberTokenizer

public struct ServedModel: Sendable {
    /// The id `/v1/models` lists and every response names (`--alias`, else the reference the server
    /// was started with).
    public let name: String
    /// Other names that are this model (the reference, the file's name with and without extension).
    public let aliases: Set<String>
    /// Whether a request naming another model is refused (404) rather than answered by this one.
    public let strictNames: Bool
    public let tokenizer: Tokenizer
    public let template: ChatTemplate
    public let scheduler: Scheduler
    public let created: Int
    /// The sampling the model recommends: a request's unset temperature, top_p, top_k and min_p come
    /// from it before OpenAI's defaults (as vLLM takes a model's generation_config).
    public let samplingDefaults: ModelSamplingDefaults
    /// How the template writes tool calls.
    let toolFormat: ToolCallFormat
    /// What the model is (Ollama's /api/tags, /api/show, /api/ps).
    public let facts: ModelFacts?

    public init(name: String, aliases: Set<String>, tokenizer: Tokenizer, template: ChatTemplate, scheduler: Scheduler, created: Int,
                samplingDefaults: ModelSamplingDefaults = ModelSamplingDefaults(), strictNames: Bool = false, facts: ModelFacts? = nil) {
        self.name = name
        self.facts = facts
        self.strictNames = strictNames
        self.samplingDefaults = samplingDefaults
        self.aliases = aliases
        self.tokenizer = tokenizer
        self.template = template
        self.scheduler = scheduler
        self.created = created
        toolFormat = ToolCallFormat(template: template)
    }

    /// Whether a request naming `model` is answered: by default any (many applications hard-code a
    /// model's name, and this server runs one), with `strictNames` only this model's names.
    func answers(to model: String) -> Bool { !strictNames || model == name || aliases.contains(model) }

    /// The conversation rendered with the model's template and tokenized, ready for the reply.
    func render(_ messages: [ChatMessage], tools: [JinjaValue]?) throws(APIError) -> [Int32] {
        do { return try template.promptTokens(for: messages, tools: tools, tokenizer: tokenizer) } catch {
            // Templates raise on conversations they do not accept (roles out of order, ...).
            throw .badRequest("The model's chat template refused the messages: \(error)", param: "messages")
        }
    }
}
