// The tokenizer algorithms Ember implements, named by `tokenizer.ggml.model`.

public enum TokenizerModel: Sendable, Equatable {
    /// `gpt2`: byte-level BPE with ranked merges and a regex pre-tokenizer.
    case bytePairEncoding
    /// `llama`: SentencePiece BPE, merges driven by token scores, `<0xXX>` byte fallback.
    case sentencePiece

    init(name: String) throws(TokenizerError) {
        switch name {
        case "gpt2": self = .bytePairEncoding
        case "llama": self = .sentencePiece
        default: throw .unsupportedModel(name)
        }
    }
}
