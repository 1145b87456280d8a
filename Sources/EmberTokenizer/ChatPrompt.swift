// A conversation turned into the tokens a model reads before its reply: rendered with its chat
// template (its BOS and EOS token texts given to the template), then tokenized with special tokens
// parsed and none added, since the template writes the ones it wants.

import EmberJinja

extension ChatTemplate {
    public func promptTokens(for messages: [ChatMessage], tools: [JinjaValue]? = nil, tokenizer: Tokenizer) throws(JinjaError) -> [Int32] {
        let vocabulary = tokenizer.vocabulary
        let text = try render(messages: messages, tools: tools, addGenerationPrompt: true,
                              bosToken: vocabulary.bos.map { vocabulary.tokens[Int($0)] } ?? "",
                              eosToken: vocabulary.eos.map { vocabulary.tokens[Int($0)] } ?? "")
        return tokenizer.encode(text, addSpecial: false, parseSpecial: true)
    }
}
