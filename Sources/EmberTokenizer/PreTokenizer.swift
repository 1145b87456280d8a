// The pre-tokenizers of byte-level BPE vocabularies: how `tokenizer.ggml.pre` names map to llama.cpp's
// regex families, the settings each name implies, and the chain of splitting passes each family runs.

/// A family of pre-tokenizer regexes, as llama.cpp groups `tokenizer.ggml.pre` names.
public enum PreTokenizer: Sendable, Equatable {
    /// GPT-2's regex (gpt-2, mpt, olmo, phi-2, ...).
    case gpt2
    /// Each digit on its own, then GPT-2's regex (smollm, starcoder, refact, ...).
    case smollm
    /// llama3's regex: digits in groups of up to three (llama-bpe, llama3, dbrx, ...).
    case llama3
    /// llama3's regex with single digits (qwen2, stablelm2, deepseek-r1-qwen, ...).
    case qwen2
    /// llama.cpp's fallback: punctuation runs, GPT-2's regex, number runs, ASCII digit triples
    /// ("default", or no `tokenizer.ggml.pre` at all).
    case llamaDefault

    /// Splits `text` into words, as code-point lengths appended to `words`.
    func split(_ text: ScalarText, into words: inout [Int]) {
        let whole = [text.scalars.count]
        switch self {
        case .gpt2:
            GPT2Splitter.split(text, whole, into: &words)
        case .smollm:
            var digits: [Int] = []
            CategorySplitter.isolatedNumbers.split(text, whole, into: &digits)
            GPT2Splitter.split(text, digits, into: &words)
        case .llama3:
            Llama3Splitter.split(text, whole, digitGroup: 3, into: &words)
        case .qwen2:
            Llama3Splitter.split(text, whole, digitGroup: 1, into: &words)
        case .llamaDefault:
            var first: [Int] = []
            var second: [Int] = []
            CategorySplitter.punctuationRuns.split(text, whole, into: &first)
            GPT2Splitter.split(text, first, into: &second)
            first.removeAll(keepingCapacity: true)
            CategorySplitter.numberRuns.split(text, second, into: &first)
            CategorySplitter.asciiDigitTriples.split(text, first, into: &words)
        }
    }
}

/// What a `tokenizer.ggml.pre` name means to llama.cpp: the regex family and the settings that come with it.
struct PreTokenizerRules: Sendable {
    let preTokenizer: PreTokenizer
    /// A word that is itself a token is emitted whole, without running merges.
    var ignoresMerges = false
    /// The BOS default before `tokenizer.ggml.add_bos_token` is read.
    var addsBOS = false
    /// The vocabulary has no BOS token, whatever the metadata says.
    var hasNoBOS = false

    /// The rules for a pre-tokenizer name; no name means llama.cpp's default (which it warns about).
    /// Names llama.cpp knows but Ember does not implement are an error, as unknown names are in llama.cpp.
    static func named(_ name: String?) throws(TokenizerError) -> PreTokenizerRules {
        guard let name, !name.isEmpty else { return PreTokenizerRules(preTokenizer: .llamaDefault) }
        switch name {
        case "default":
            return PreTokenizerRules(preTokenizer: .llamaDefault)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return PreTokenizerRules(preTokenizer: .llama3, ignoresMerges: true, addsBOS: true)
        case "dbrx", "smaug-bpe":
            return PreTokenizerRules(preTokenizer: .llama3)
        case "chatglm-bpe":
            return PreTokenizerRules(preTokenizer: .llama3, hasNoBOS: true)
        case "glm4", "glm5":
            return PreTokenizerRules(preTokenizer: .llama3, ignoresMerges: true, hasNoBOS: true)
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "a.x-4.0", "mellum", "mpt", "olmo", "jais",
             "trillion", "granite-docling", "exaone4":
            return PreTokenizerRules(preTokenizer: .gpt2)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            return PreTokenizerRules(preTokenizer: .smollm)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open",
             "grok-2":
            return PreTokenizerRules(preTokenizer: .qwen2)
        default:
            throw .unsupportedPreTokenizer(name)
        }
    }
}
