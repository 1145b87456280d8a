// llama.cpp's text-based detection of special tokens that GGUF files often do not mark: end of turn,
// fill-in-the-middle markers and the end-of-generation set. The lists and their quirks are llama.cpp's
// (src/llama-vocab.cpp, `llama_vocab::impl::load`), so that Ember stops generating where llama.cpp does.

struct SpecialTokenRoles {
    var eot: Int32?
    var eom: Int32?
    var fimPrefix: Int32?
    var fimSuffix: Int32?
    var fimMiddle: Int32?
    var fimPad: Int32?
    var fimRepository: Int32?
    var fimSeparator: Int32?
    var endOfGeneration: Set<Int32> = []

    /// Fills the roles the metadata left empty from token texts, updates `attributes` the way llama.cpp
    /// does (detected markers become control tokens), and builds the end-of-generation set.
    /// `amongNormalTokens`: whether a normal token whose text is a marker becomes one (llama.cpp's
    /// fix-up for files that mark them wrongly), or only tokens already special are looked at.
    mutating func detect(tokens: [String], attributes: inout [TokenAttributes], eos: Int32?, amongNormalTokens: Bool = true) {
        let unset = Set(Role.allCases.filter { self[$0] == nil })
        // One pass over the vocabulary, which is long (50k to 250k texts): a text is hashed only when its
        // first byte could start one of the marker texts, which few do.
        for (index, text) in tokens.enumerated() {
            guard let first = text.utf8.first, Self.markerFirstBytes.contains(first),
                  amongNormalTokens || attributes[index] != .normal else { continue }
            // llama.cpp walks a hash map, so which of two candidates wins is unspecified there; Ember takes the lowest id.
            if let role = Self.roleByText[text], unset.contains(role), self[role] == nil {
                self[role] = Int32(index)
                attributes[index].insert(.control)
            }
            if Self.endOfGenerationTexts.contains(text) {
                endOfGeneration.insert(Int32(index))
                attributes[index].insert(.control)
            }
            // gpt-oss: these structure its output and are always rendered.
            if Self.alwaysRenderedTexts.contains(text) {
                attributes[index] = .userDefined
            }
        }

        for id in [fimPad, fimRepository, fimSeparator].compactMap({ $0 }) {
            endOfGeneration.insert(id)
        }
        for id in [eos, eot, eom].compactMap({ $0 }) {
            endOfGeneration.insert(id)
        }

        // o200k_harmony and solar-open end a message with <|end|> but keep generating after it.
        let eogTexts = Dictionary(endOfGeneration.map { (tokens[Int($0)], $0) }, uniquingKeysWith: { first, _ in first })
        let hasCall = eogTexts["<|call|>"] != nil || eogTexts["<|calls|>"] != nil
        if let end = eogTexts["<|end|>"], hasCall, eogTexts["<|return|>"] != nil || eogTexts["<|flush|>"] != nil {
            endOfGeneration.remove(end)
            attributes[Int(end)] = .userDefined
        }
        // gemma4 and plamo have an ordinary </s>.
        if let closing = eogTexts["</s>"], eogTexts["<|tool_response>"] != nil || eogTexts["<|plamo:eos|>"] != nil {
            endOfGeneration.remove(closing)
            attributes[Int(closing)] = .normal
        }
    }

    enum Role: CaseIterable {
        case eot, eom, fimPrefix, fimSuffix, fimMiddle, fimPad, fimRepository, fimSeparator
    }

    subscript(role: Role) -> Int32? {
        get {
            switch role {
            case .eot: eot
            case .eom: eom
            case .fimPrefix: fimPrefix
            case .fimSuffix: fimSuffix
            case .fimMiddle: fimMiddle
            case .fimPad: fimPad
            case .fimRepository: fimRepository
            case .fimSeparator: fimSeparator
            }
        }
        set {
            switch role {
            case .eot: eot = newValue
            case .eom: eom = newValue
            case .fimPrefix: fimPrefix = newValue
            case .fimSuffix: fimSuffix = newValue
            case .fimMiddle: fimMiddle = newValue
            case .fimPad: fimPad = newValue
            case .fimRepository: fimRepository = newValue
            case .fimSeparator: fimSeparator = newValue
            }
        }
    }

    private static let roleByText: [String: Role] = {
        let lists: [(Role, Set<String>)] = [
            (.eot, endOfTurnTexts), (.eom, ["<|eom_id|>"]), (.fimPrefix, fimPrefixTexts), (.fimSuffix, fimSuffixTexts),
            (.fimMiddle, fimMiddleTexts), (.fimPad, fimPadTexts), (.fimRepository, fimRepositoryTexts), (.fimSeparator, ["<|file_sep|>"]),
        ]
        return Dictionary(lists.flatMap { role, texts in texts.map { ($0, role) } }, uniquingKeysWith: { first, _ in first })
    }()

    /// The first bytes of every marker text above.
    private static let markerFirstBytes: Set<UInt8> = Set(
        (Array(roleByText.keys) + Array(endOfGenerationTexts) + Array(alwaysRenderedTexts)).compactMap(\.utf8.first))

    private static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    private static let fimPrefixTexts: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
        "<|prefix|>",
    ]
    private static let fimSuffixTexts: Set<String> = [
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
        "<|suffix|>",
    ]
    private static let fimMiddleTexts: Set<String> = [
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
        "<|middle|>",
    ]
    private static let fimPadTexts: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    private static let fimRepositoryTexts: Set<String> = [
        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
    ]
    private static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
    private static let alwaysRenderedTexts: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]
}
