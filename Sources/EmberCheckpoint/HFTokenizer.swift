// A tokenizer.json read into the tokenizer metadata a GGUF file carries (`tokenizer.ggml.*`), so that
// Ember's tokenizer, which matches llama.cpp, runs it: byte-level BPE becomes a `gpt2` vocabulary
// whose pre-tokenizer name is the regex family of its Split (GPT-2's, SmolLM's digits, Llama 3's,
// Qwen2's); SentencePiece-style BPE (Metaspace, byte fallback) becomes a `llama` vocabulary whose
// scores rank tokens by the merge that makes them. Special tokens, BOS/EOS and the chat template
// come from tokenizer_config.json (and chat_template.jinja), end tokens from generation_config.json.

import EmberFormats
import Foundation

struct HFTokenizer {
    let metadata: [(key: String, value: GGUFValue)]

    /// Llama 3's and Qwen2's Split regexes (they differ in how many digits make a word).
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// GPT-2's regex, which ByteLevel with `use_regex` applies (written out by some files as a Split).
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Reads `directory`'s tokenizer.json, and its tokenizer_config.json and chat_template.jinja where
    /// present; the embedding's rows, generation_config and config.json's special ids where known.
    init(directory: String, vocabularySize: Int? = nil, generation: GenerationConfigJSON? = nil,
         configIDs: (bos: [Int], eos: [Int]) = ([], [])) throws(CheckpointError) {
        let path = { (name: String) in directory + "/" + name }
        let exists = { (name: String) in FileManager.default.fileExists(atPath: path(name)) }
        let json = try TokenizerJSON.read(path: path("tokenizer.json"))
        let config = exists("tokenizer_config.json") ? try CheckpointJSON.decode(TokenizerConfigJSON.self, path: path("tokenizer_config.json")) : nil
        guard json.model.type == nil || json.model.type == "BPE" else {
            throw .unsupportedTokenizer(reason: "the \(json.model.type!) model is not supported (BPE is)")
        }
        let vocab = json.vocab
        guard !vocab.isEmpty else { throw .unsupportedTokenizer(reason: "the model has no vocab") }
        // Added tokens past the embedding's rows (transformers' Gemma adds a <mask>) can never be fed or produced.
        let added = (json.added_tokens ?? []).filter { token in vocabularySize.map { token.id < $0 } ?? true }

        // Tokens by id; ids nobody names (padding up to the embedding's rows) get placeholders.
        let largest = max(vocab.map(\.id).max() ?? 0, added.map(\.id).max() ?? 0)
        let count = max(largest + 1, vocabularySize ?? 0)
        guard largest < 16 << 20, vocab.allSatisfy({ $0.id >= 0 }), added.allSatisfy({ $0.id >= 0 }) else {
            throw .unsupportedTokenizer(reason: "token ids out of range")
        }
        var tokens: [String?] = Array(repeating: nil, count: count)
        for (text, id) in vocab { tokens[id] = text }
        for token in added { tokens[token.id] = token.content }
        var types: [Int32] = tokens.map { $0 == nil ? 5 : 1 }  // unused, normal
        let texts = tokens.enumerated().map { $1 ?? "[PAD\($0)]" }
        // Text to id, for the special tokens' names (canonically equivalent texts: the lowest id).
        let ids = Dictionary(texts.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        for token in added { types[token.id] = token.special == true ? 3 : 4 }  // control, user-defined

        for normalizer in json.normalizer?.flattened ?? [] where !Self.understoodNormalizer(normalizer) {
            throw .unsupportedTokenizer(reason: "the normalizer \(normalizer.type ?? "?") is not supported (NFC, and SentencePiece's space marking, are)")
        }
        let components = (json.normalizer?.flattened ?? []) + (json.pre_tokenizer?.flattened ?? [])
        let merges = json.model.merges?.pairs ?? []
        var m: [(key: String, value: GGUFValue)] = []
        if components.contains(where: { $0.type == "ByteLevel" }) {
            m.append(("tokenizer.ggml.model", .string("gpt2")))
            m.append(("tokenizer.ggml.pre", .string(try Self.byteLevelPreTokenizer(json))))
            m.append(("tokenizer.ggml.tokens", .array(.string(texts))))
            m.append(("tokenizer.ggml.token_type", .array(.int32(types))))
            m.append(("tokenizer.ggml.merges", .array(.string(merges))))
        } else if json.model.byte_fallback == true || components.contains(where: { $0.type == "Metaspace" || $0.replacement == "▁" }) {
            m.append(("tokenizer.ggml.model", .string("llama")))
            m.append(("tokenizer.ggml.pre", .string("default")))
            if json.model.byte_fallback == true {
                for (id, text) in texts.enumerated() where text.count == 6 && text.hasPrefix("<0x") && text.hasSuffix(">") { types[id] = 6 }
            }
            let unknown = json.model.unk_token ?? (config?.unk_token ?? nil)?.text
            if let unknown, let id = ids[unknown] { types[id] = 2 }
            m.append(("tokenizer.ggml.tokens", .array(.string(texts))))
            m.append(("tokenizer.ggml.scores", .array(.float32(Self.mergeScores(tokens: texts, merges: merges)))))
            m.append(("tokenizer.ggml.token_type", .array(.int32(types))))
            m.append(("tokenizer.ggml.add_space_prefix", .bool(Self.prependsSpace(components))))
            if let metaspace = components.first(where: { $0.type == "Metaspace" }), let scheme = metaspace.prepend_scheme,
               scheme == "first" || scheme == "always" {
                m.append(("tokenizer.huggingface.prepend_scheme", .string(scheme)))
            }
        } else {
            throw .unsupportedTokenizer(reason: "a BPE model that is neither byte-level nor SentencePiece-style (Metaspace, byte fallback)")
        }

        m.append(("tokenizer.huggingface.exact_token_types", .bool(true)))
        if (json.normalizer?.flattened ?? []).contains(where: { $0.type == "NFC" }) {
            m.append(("tokenizer.huggingface.normalizer", .string("NFC")))
        }

        // Special tokens: tokenizer_config's texts, else config.json's ids.
        func id(_ text: TokenizerConfigJSON.TokenText??) -> Int? { (text ?? nil)?.text.flatMap { ids[$0] } }
        let bos = id(config?.bos_token) ?? generation?.bos_token_id?.ids.first ?? configIDs.bos.first
        let eos = id(config?.eos_token) ?? generation?.eos_token_id?.ids.first ?? configIDs.eos.first
        if let bos { m.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos { m.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        // generation_config may end generation on more tokens than EOS (Llama 3's <|eot_id|>).
        if let other = (generation?.eos_token_id?.ids ?? []).first(where: { $0 != eos && $0 < count }) {
            m.append(("tokenizer.ggml.eot_token_id", .uint32(UInt32(other))))
        }
        if let unknown = id(config?.unk_token) ?? json.model.unk_token.flatMap({ ids[$0] }) {
            m.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknown))))
        }
        if let padding = id(config?.pad_token) { m.append(("tokenizer.ggml.padding_token_id", .uint32(UInt32(padding)))) }
        let template = Self.postProcessorSpecials(json.post_processor)
        m.append(("tokenizer.ggml.add_bos_token", .bool(config?.add_bos_token ?? template.addsBOS)))
        m.append(("tokenizer.ggml.add_eos_token", .bool(config?.add_eos_token ?? template.addsEOS)))
        if let chatTemplate = try Self.chatTemplate(file: exists("chat_template.jinja") ? path("chat_template.jinja") : nil, config: config) {
            m.append(("tokenizer.chat_template", .string(chatTemplate)))
        }
        metadata = m
    }

    /// The llama.cpp pre-tokenizer name whose splitting equals this byte-level tokenizer's.
    static func byteLevelPreTokenizer(_ json: TokenizerJSON) throws(CheckpointError) -> String {
        let parts = json.pre_tokenizer?.flattened.filter { $0.type != "Sequence" } ?? []
        let kinds = parts.map { $0.type ?? "?" }
        let ignoresMerges = json.model.ignore_merges ?? false
        if let byteLevel = parts.last, byteLevel.type == "ByteLevel", byteLevel.add_prefix_space == true {
            throw .unsupportedTokenizer(reason: "ByteLevel with add_prefix_space is not supported")
        }
        switch kinds {
        case ["ByteLevel"] where parts[0].use_regex ?? true:
            return "gpt-2"
        case ["Digits", "ByteLevel"] where parts[0].individual_digits == true && (parts[1].use_regex ?? true):
            return "smollm"
        case ["Split", "ByteLevel"] where parts[1].use_regex == false:
            let pattern = parts[0].pattern?.regex ?? parts[0].pattern?.string ?? ""
            switch pattern {
            case llama3Pattern: return ignoresMerges ? "llama-bpe" : "smaug-bpe"
            case qwen2Pattern where !ignoresMerges: return "qwen2"
            case gpt2Pattern: return "gpt-2"
            default: throw .unsupportedTokenizer(reason: "the Split regex \(pattern) is not one Ember implements (GPT-2's, Llama 3's, Qwen2's)")
            }
        default:
            throw .unsupportedTokenizer(reason: "the pre-tokenizer \(kinds.joined(separator: " + ")) is not supported")
        }
    }

    /// SentencePiece-style scores: a token made by the merge of rank r scores -r, so the merge Ember's
    /// SentencePiece encoder prefers (the highest score) is the one BPE ranks first. Tokens no merge
    /// makes score lowest.
    static func mergeScores(tokens: [String], merges: [String]) -> [Float] {
        var rankOf: [String: Int] = [:]
        for (rank, merge) in merges.enumerated() {
            guard let space = merge.firstIndex(of: " ") else { continue }
            let merged = String(merge[..<space]) + String(merge[merge.index(after: space)...])
            if rankOf[merged] == nil { rankOf[merged] = rank }
        }
        return tokens.map { rankOf[$0].map { -Float($0) } ?? -Float(merges.count + 1) }
    }

    /// Whether Ember's tokenizer does what `normalizer` does: NFC, or SentencePiece's marking of spaces.
    static func understoodNormalizer(_ normalizer: TokenizerJSON.Component) -> Bool {
        switch normalizer.type {
        case "Sequence", "NFC": true
        case "Prepend": normalizer.prepend == "▁"
        case "Replace": normalizer.pattern?.string == " " && normalizer.content == "▁"
        default: false
        }
    }

    /// Whether SentencePiece-style text starts with a `▁` (Metaspace's prepend scheme, or a Prepend normalizer).
    static func prependsSpace(_ components: [TokenizerJSON.Component]) -> Bool {
        components.contains { component in
            switch component.type {
            case "Metaspace": (component.prepend_scheme.map { $0 != "never" } ?? component.add_prefix_space) ?? true
            case "Prepend": component.prepend == "▁"
            default: false
            }
        }
    }

    /// Whether the post-processor's single-sequence template puts a special token before and after the text.
    static func postProcessorSpecials(_ processor: TokenizerJSON.Component?) -> (addsBOS: Bool, addsEOS: Bool) {
        guard let template = processor?.flattened.first(where: { $0.type == "TemplateProcessing" })?.single, !template.isEmpty else {
            return (false, false)
        }
        return (template.first?.SpecialToken != nil, template.count > 1 && template.last?.SpecialToken != nil)
    }

    /// chat_template.jinja, or tokenizer_config's template (the default of named ones).
    static func chatTemplate(file: String?, config: TokenizerConfigJSON?) throws(CheckpointError) -> String? {
        if let separate = file {
            do { return try String(contentsOfFile: separate, encoding: .utf8) } catch {
                throw .unreadable(path: separate, reason: "\(error)")
            }
        }
        return config?.chat_template.flatMap { $0.byName["default"] ?? $0.byName.values.first }
    }
}
