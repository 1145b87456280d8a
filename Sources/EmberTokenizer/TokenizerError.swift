// Why a tokenizer could not be built from a model's metadata; each case names the key or value at fault.

import EmberFormats

public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A key the tokenizer needs is absent (`tokenizer.ggml.model`, `.tokens`, or `.merges` for BPE).
    case missingKey(String)
    /// A key holds a value of the wrong type.
    case wrongType(key: String, expected: String)
    /// A per-token array is shorter than the token list.
    case arrayTooShort(key: String, count: Int, tokens: Int)
    /// The token list is empty.
    case emptyVocabulary
    /// `tokenizer.ggml.model` names a tokenizer Ember does not implement.
    case unsupportedModel(String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer Ember does not implement.
    case unsupportedPreTokenizer(String)

    public var description: String {
        switch self {
        case let .missingKey(key):
            "model metadata lacks \"\(key)\"; the file carries no usable tokenizer (re-convert it with llama.cpp)"
        case let .wrongType(key, expected):
            "model metadata \"\(key)\" is not \(expected)"
        case let .arrayTooShort(key, count, tokens):
            "model metadata \"\(key)\" has \(count) entries for \(tokens) tokens"
        case .emptyVocabulary:
            "model metadata \"tokenizer.ggml.tokens\" is empty"
        case let .unsupportedModel(name):
            "tokenizer.ggml.model \"\(name)\" is not supported (Ember reads \"gpt2\" byte-level BPE and "
                + "\"llama\" SentencePiece)"
        case let .unsupportedPreTokenizer(name):
            "tokenizer.ggml.pre \"\(name)\" is not supported (Ember knows the gpt2, smollm, llama3, qwen2 and "
                + "default families); override the pre-tokenizer if the model uses one of those regexes"
        }
    }

    init(_ error: MetadataError) {
        switch error {
        case let .missing(key): self = .missingKey(key)
        case let .wrongType(key, expected, _): self = .wrongType(key: key, expected: expected)
        }
    }
}
