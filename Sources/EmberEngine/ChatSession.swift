// A conversation with one model: the messages so far are rendered with the model's chat template at
// every turn, and the generator's KV cache still holds the earlier turns, so a turn computes only the
// tokens after the prefix it shares with them.

import EmberJinja
import EmberTokenizer
import EmberTrace

public final class ChatSession {
    public let generator: Generator
    public let template: ChatTemplate
    /// The turns so far, user and assistant, without the system message.
    public private(set) var messages: [ChatMessage] = []
    /// Sent first at every turn when set.
    public var systemPrompt: String?

    public init(generator: Generator, template: ChatTemplate) {
        self.generator = generator
        self.template = template
    }

    /// Forgets the turns (the system prompt stays). The cache is kept: the next turn reuses whatever
    /// prefix it still shares, such as the system message.
    public func reset() { messages.removeAll() }

    /// Sends `text` as the user's turn and streams the reply to `onText`; the reply joins the
    /// conversation when it is done (a cancelled one with what it had).
    /// `prefillProgress` hears how much of the new prompt has been computed.
    public func send(_ text: String, parameters: GenerationParameters, isCancelled: () -> Bool = { false },
                     prefillProgress: ProgressCounter? = nil, onText: (String) -> Void) throws(ChatError) -> GenerationStatistics {
        let turn = messages + [ChatMessage(role: "user", content: text)]
        let prompt = try tokens(for: turn)
        var reply = ""
        let statistics: GenerationStatistics
        do {
            statistics = try generator.generate(prompt: prompt, parameters: parameters, reusingCache: true,
                                                isCancelled: isCancelled, prefillProgress: prefillProgress) { piece in
                reply += piece
                onText(piece)
            }
        } catch {
            throw .engine(error)
        }
        messages = turn + [ChatMessage(role: "assistant", content: reply)]
        return statistics
    }

    /// The conversation `turn` rendered and tokenized, ready for the assistant's reply.
    func tokens(for turn: [ChatMessage]) throws(ChatError) -> [Int32] {
        let conversation = (systemPrompt.map { [ChatMessage(role: "system", content: $0)] } ?? []) + turn
        do { return try template.promptTokens(for: conversation, tokenizer: generator.tokenizer) } catch { throw .template(error) }
    }
}

public enum ChatError: Error, CustomStringConvertible {
    case template(JinjaError)
    case engine(EngineError)

    public var description: String {
        switch self {
        case let .template(error): "the model's chat template failed: \(error)"
        case let .engine(error): "\(error)"
        }
    }
}
