// A tokenizer vocabulary read from GGUF metadata (`tokenizer.ggml.*`), with the defaults and fix-ups
// llama.cpp applies when it loads one, so that ids, special tokens and flags agree with llama.cpp.

import EmberFormats

public struct Vocabulary: Sendable {
    public let model: TokenizerModel
    /// `tokenizer.ggml.pre`, or the override given at load; nil when the model has none.
    public let preTokenizerName: String?
    /// The splitting rules of a BPE vocabulary; nil for SentencePiece.
    public let preTokenizer: PreTokenizer?
    public let tokens: [String]
    public let types: [TokenType]
    /// Per-token behaviour after llama.cpp's fix-ups (detected end markers become control tokens).
    public let attributes: [TokenAttributes]
    public let scores: [Float]
    /// BPE merges, "left right", highest priority first (the rank is the index).
    public let merges: [String]

    public let bos: Int32?
    public let eos: Int32?
    public let eot: Int32?
    public let eom: Int32?
    public let unknown: Int32?
    public let padding: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool
    /// Which text fragments get SentencePiece's space prefix.
    public let spacePrefixScheme: SpacePrefixScheme
    /// Whether text is put in Unicode normalization form C before it is split (Qwen2's tokenizer.json).
    public let normalizesToNFC: Bool
    /// Tokens that end generation: eos, eot, eom, fill-in-the-middle pad/repo/separator markers, and
    /// tokens whose text is a known end marker (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, ...).
    public let endOfGeneration: Set<Int32>

    /// A pre-tokenized word that is itself a token is emitted whole (llama3's `ignore_merges`).
    let ignoresMerges: Bool
    /// Token text to id.
    let ids: ByteStringTable

    public var count: Int { tokens.count }

    public func id(of text: String) -> Int32? { ids.value(for: text) }

    /// Reads the vocabulary; `preTokenizer` replaces `tokenizer.ggml.pre` (with everything that name implies).
    public init(metadata: GGUFMetadata, preTokenizer preTokenizerOverride: String? = nil) throws(TokenizerError) {
        let metadata = MetadataReader(metadata: metadata)
        model = try TokenizerModel(name: metadata.string(Key.model))

        let tokenArray = try metadata.array(Key.tokens)
        guard var tokens = tokenArray.strings else { throw .wrongType(key: Key.tokens, expected: "an array of strings") }
        guard !tokens.isEmpty else { throw .emptyVocabulary }
        let n = tokens.count
        for index in tokens.indices where tokens[index].isEmpty {
            tokens[index] = "[EMPTY_\(index)]"
        }
        self.tokens = tokens

        if let array = try metadata.arrayIfPresent(Key.scores) {
            guard array.elementType == .float32 || array.elementType == .int32, let values = array.floats else {
                throw .wrongType(key: Key.scores, expected: "an array of f32 or i32")
            }
            guard values.count >= n else { throw .arrayTooShort(key: Key.scores, count: values.count, tokens: n) }
            scores = Array(values.prefix(n))
        } else {
            scores = Array(repeating: 0, count: n)
        }

        if let array = try metadata.arrayIfPresent(Key.tokenTypes) {
            guard let values = array.integers else { throw .wrongType(key: Key.tokenTypes, expected: "an array of integers") }
            guard values.count >= n else { throw .arrayTooShort(key: Key.tokenTypes, count: values.count, tokens: n) }
            types = values.prefix(n).map { TokenType(rawValue: Int32(truncatingIfNeeded: $0)) ?? .undefined }
        } else {
            types = Array(repeating: .normal, count: n)
        }

        if let preTokenizerOverride {
            preTokenizerName = preTokenizerOverride
        } else {
            preTokenizerName = try metadata.stringIfPresent(Key.pre)
        }
        var rules = PreTokenizerRules(preTokenizer: .llamaDefault)
        switch model {
        case .bytePairEncoding:
            rules = try PreTokenizerRules.named(preTokenizerName)
            preTokenizer = rules.preTokenizer
            guard let array = try metadata.arrayIfPresent(Key.merges) else { throw .missingKey(Key.merges) }
            guard let merges = array.strings else { throw .wrongType(key: Key.merges, expected: "an array of strings") }
            self.merges = merges
        case .sentencePiece:
            preTokenizer = nil
            merges = []
        }
        ignoresMerges = rules.ignoresMerges

        let isSentencePiece = model == .sentencePiece
        func specialID(_ key: String, default fallback: Int32?) throws(TokenizerError) -> Int32? {
            var id = fallback.flatMap { $0 < n ? $0 : nil }
            if let value = try metadata.intIfPresent(key), value >= 0, value < n {
                id = Int32(value)
            }
            return id
        }
        bos = try specialID(Key.bos, default: rules.hasNoBOS ? nil : (isSentencePiece ? 1 : 11))
        eos = try specialID(Key.eos, default: isSentencePiece ? 2 : 11)
        unknown = try specialID(Key.unknown, default: isSentencePiece ? 0 : nil)
        padding = try specialID(Key.padding, default: nil)
        var roles = SpecialTokenRoles()
        roles.eot = try specialID(Key.eot, default: nil)
        roles.eom = try specialID(Key.eom, default: nil)
        roles.fimPrefix = try specialID(Key.legacyPrefix, default: specialID(Key.fimPrefix, default: nil))
        roles.fimSuffix = try specialID(Key.legacySuffix, default: specialID(Key.fimSuffix, default: nil))
        roles.fimMiddle = try specialID(Key.legacyMiddle, default: specialID(Key.fimMiddle, default: nil))
        roles.fimPad = try specialID(Key.fimPad, default: nil)
        roles.fimRepository = try specialID(Key.fimRepository, default: nil)
        roles.fimSeparator = try specialID(Key.fimSeparator, default: nil)

        addBOS = try metadata.boolIfPresent(Key.addBOS) ?? (isSentencePiece || rules.addsBOS)
        addEOS = try metadata.boolIfPresent(Key.addEOS) ?? false
        addSpacePrefix = try metadata.boolIfPresent(Key.addSpacePrefix) ?? isSentencePiece
        let scheme = try metadata.stringIfPresent(Key.prependScheme)
        guard let spacePrefixScheme = SpacePrefixScheme(metadataValue: scheme) else {
            throw .wrongType(key: Key.prependScheme, expected: "\"first\" or \"always\"")
        }
        self.spacePrefixScheme = spacePrefixScheme
        let normalizer = try metadata.stringIfPresent(Key.normalizer)
        guard normalizer == nil || normalizer == "NFC" else { throw .wrongType(key: Key.normalizer, expected: "\"NFC\"") }
        normalizesToNFC = normalizer == "NFC"

        var attributes = types.map(TokenAttributes.init)
        // A tokenizer.json's token kinds are exact: markers are looked for only among its added tokens.
        let exactTypes = try metadata.boolIfPresent(Key.exactTypes) ?? false
        roles.detect(tokens: tokens, attributes: &attributes, eos: eos, amongNormalTokens: !exactTypes)
        self.attributes = attributes
        eot = roles.eot
        eom = roles.eom
        endOfGeneration = roles.endOfGeneration

        var ids = ByteStringTable(capacity: n)
        for (index, token) in tokens.enumerated() {
            ids.insert(token, value: Int32(index))
        }
        self.ids = ids
    }

    /// Which fragments of a text (the parts between special tokens) get SentencePiece's space prefix.
    public enum SpacePrefixScheme: Sendable {
        /// Every fragment, as SentencePiece and llama.cpp do.
        case everyFragment
        /// Only a fragment at the very start of the text, and only if it does not start with a space
        /// (`tokenizers`' Metaspace with prepend_scheme "first").
        case textStart
        /// Every fragment that does not start with a space (Metaspace's "always").
        case unlessSpaced

        init?(metadataValue: String?) {
            switch metadataValue {
            case nil: self = .everyFragment
            case "first": self = .textStart
            case "always": self = .unlessSpaced
            default: return nil
            }
        }
    }

    /// `GGUFMetadata` accessors that throw `TokenizerError`.
    private struct MetadataReader {
        let metadata: GGUFMetadata

        func string(_ key: String) throws(TokenizerError) -> String {
            do { return try metadata.string(key) } catch { throw TokenizerError(error) }
        }

        func stringIfPresent(_ key: String) throws(TokenizerError) -> String? {
            do { return try metadata.stringIfPresent(key) } catch { throw TokenizerError(error) }
        }

        func array(_ key: String) throws(TokenizerError) -> GGUFArray {
            do { return try metadata.array(key) } catch { throw TokenizerError(error) }
        }

        func arrayIfPresent(_ key: String) throws(TokenizerError) -> GGUFArray? {
            do { return try metadata.arrayIfPresent(key) } catch { throw TokenizerError(error) }
        }

        func intIfPresent(_ key: String) throws(TokenizerError) -> Int? {
            do { return try metadata.intIfPresent(key) } catch { throw TokenizerError(error) }
        }

        func boolIfPresent(_ key: String) throws(TokenizerError) -> Bool? {
            do { return try metadata.boolIfPresent(key) } catch { throw TokenizerError(error) }
        }
    }

    private enum Key {
        static let model = "tokenizer.ggml.model"
        static let pre = "tokenizer.ggml.pre"
        static let tokens = "tokenizer.ggml.tokens"
        static let scores = "tokenizer.ggml.scores"
        static let tokenTypes = "tokenizer.ggml.token_type"
        static let merges = "tokenizer.ggml.merges"
        static let bos = "tokenizer.ggml.bos_token_id"
        static let eos = "tokenizer.ggml.eos_token_id"
        static let eot = "tokenizer.ggml.eot_token_id"
        static let eom = "tokenizer.ggml.eom_token_id"
        static let unknown = "tokenizer.ggml.unknown_token_id"
        static let padding = "tokenizer.ggml.padding_token_id"
        static let fimPrefix = "tokenizer.ggml.fim_pre_token_id"
        static let fimSuffix = "tokenizer.ggml.fim_suf_token_id"
        static let fimMiddle = "tokenizer.ggml.fim_mid_token_id"
        static let fimPad = "tokenizer.ggml.fim_pad_token_id"
        static let fimRepository = "tokenizer.ggml.fim_rep_token_id"
        static let fimSeparator = "tokenizer.ggml.fim_sep_token_id"
        static let legacyPrefix = "tokenizer.ggml.prefix_token_id"
        static let legacySuffix = "tokenizer.ggml.suffix_token_id"
        static let legacyMiddle = "tokenizer.ggml.middle_token_id"
        static let addBOS = "tokenizer.ggml.add_bos_token"
        static let addEOS = "tokenizer.ggml.add_eos_token"
        static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
        // What a Hugging Face tokenizer.json says that llama.cpp's keys cannot (EmberCheckpoint writes them).
        static let prependScheme = "tokenizer.huggingface.prepend_scheme"
        static let normalizer = "tokenizer.huggingface.normalizer"
        static let exactTypes = "tokenizer.huggingface.exact_token_types"
    }
}
