// A checkpoint's config.json (and generation_config.json) decoded into the hyper-parameters GGUF
// metadata gives (`<arch>.embedding_length`, `<arch>.rope.freq_base`, ...), as llama.cpp's
// convert_hf_to_gguf.py writes them for Llama (and Mistral), Qwen2, Qwen3, Gemma 3 (text) and
// Phi-3. RoPE settings come from the older keys (`rope_theta`, `rope_scaling`,
// `rope_local_base_freq`) or transformers 5's `rope_parameters`.

import EmberFormats
import Foundation

/// The fields of config.json Ember reads; every one optional, checked where it is used.
struct HFConfigJSON: Decodable {
    var architectures: [String]?
    var model_type: String?
    var vocab_size: Int?
    var hidden_size: Int?
    var intermediate_size: Int?
    var num_hidden_layers: Int?
    var num_attention_heads: Int?
    var num_key_value_heads: Int?
    var head_dim: Int?
    var max_position_embeddings: Int?
    var original_max_position_embeddings: Int?
    var rms_norm_eps: Double?
    var rope_theta: Double?
    var rope_local_base_freq: Double?
    var rope_scaling: RopeJSON?
    var rope_parameters: RopeParametersJSON?
    var partial_rotary_factor: Double?
    var tie_word_embeddings: Bool?
    var sliding_window: Int?
    var sliding_window_pattern: Int?
    var layer_types: [String]?
    var query_pre_attn_scalar: Double?
    var final_logit_softcapping: Double?
    var bos_token_id: TokenIDs?
    var eos_token_id: TokenIDs?
    var pad_token_id: TokenIDs?
    var torch_dtype: String?
}

struct RopeJSON: Decodable {
    var type: String?
    var rope_type: String?
    var rope_theta: Double?
    var factor: Double?
    var low_freq_factor: Double?
    var high_freq_factor: Double?
    var original_max_position_embeddings: Int?
    var long_factor: [Double]?
    var short_factor: [Double]?
    var partial_rotary_factor: Double?

    var kind: String { (rope_type ?? type ?? "default").lowercased() }
}

/// transformers 5's `rope_parameters`: one set, or one per attention kind (Gemma 3).
struct RopeParametersJSON: Decodable {
    var single: RopeJSON
    var full_attention: RopeJSON?
    var sliding_attention: RopeJSON?

    init(from decoder: any Decoder) throws {
        single = try RopeJSON(from: decoder)
        struct PerKind: Decodable { var full_attention: RopeJSON?; var sliding_attention: RopeJSON? }
        let kinds = try PerKind(from: decoder)
        full_attention = kinds.full_attention
        sliding_attention = kinds.sliding_attention
    }

    var global: RopeJSON { full_attention ?? single }
}

/// A token id or a list of them (generation_config's `eos_token_id` is either).
struct TokenIDs: Decodable {
    var ids: [Int]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { ids = [] } else if let one = try? container.decode(Int.self) { ids = [one] } else {
            ids = try container.decode([Int].self)
        }
    }
}

struct GenerationConfigJSON: Decodable {
    var bos_token_id: TokenIDs?
    var eos_token_id: TokenIDs?
    var temperature: Double?
    var top_k: Int?
    var top_p: Double?
    var min_p: Double?
    var repetition_penalty: Double?
    var do_sample: Bool?
}

/// The configuration of a checkpoint: its GGUF architecture and the metadata of its hyper-parameters.
struct HFConfig {
    let architecture: String
    let json: HFConfigJSON
    /// Under GGUF's keys, in the order llama.cpp writes them.
    let metadata: [(key: String, value: GGUFValue)]
    /// Tensors the configuration implies that the weights do not hold (LongRoPE's factors), as F32 values.
    let extraTensors: [(name: String, values: [Float])]

    /// transformers class names to GGUF architectures.
    static let architectures: [String: String] = [
        "LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3",
        "Gemma3ForCausalLM": "gemma3", "Gemma3ForConditionalGeneration": "gemma3", "Phi3ForCausalLM": "phi3",
    ]

    init(path: String, generation: GenerationConfigJSON?) throws(CheckpointError) {
        var json = try CheckpointJSON.decode(HFConfigJSON.self, path: path)
        let className = json.architectures?.first ?? json.model_type ?? "unknown"
        guard let architecture = Self.architectures[className] else { throw .unsupportedArchitecture(className) }
        if className == "Gemma3ForConditionalGeneration" {
            struct Multimodal: Decodable { var text_config: HFConfigJSON? }
            guard let text = try CheckpointJSON.decode(Multimodal.self, path: path).text_config else {
                throw .invalidConfig(key: "text_config", reason: "a Gemma 3 multimodal config needs its text_config")
            }
            json = text
        }
        self.architecture = architecture
        self.json = json
        (metadata, extraTensors) = try Self.metadata(json, architecture: architecture, generation: generation)
    }

    private static func metadata(_ c: HFConfigJSON, architecture a: String, generation: GenerationConfigJSON?)
        throws(CheckpointError) -> ([(key: String, value: GGUFValue)], [(name: String, values: [Float])]) {
        func require(_ value: Int?, _ key: String) throws(CheckpointError) -> Int {
            guard let value else { throw .invalidConfig(key: key, reason: "missing") }
            guard value > 0 else { throw .invalidConfig(key: key, reason: "\(value) is not positive") }
            return value
        }
        let embd = try require(c.hidden_size, "hidden_size")
        let heads = try require(c.num_attention_heads, "num_attention_heads")
        let kvHeads = try require(c.num_key_value_heads ?? heads, "num_key_value_heads")
        let headDim = try require(c.head_dim ?? embd / heads, "head_dim")
        var m: [(key: String, value: GGUFValue)] = [("general.architecture", .string(a))]
        func put(_ key: String, _ value: GGUFValue) { m.append(("\(a).\(key)", value)) }
        func u32(_ value: Int) -> GGUFValue { .uint32(UInt32(clamping: value)) }
        let context = c.max_position_embeddings ?? 2048
        put("context_length", u32(context))
        put("embedding_length", u32(embd))
        put("feed_forward_length", u32(try require(c.intermediate_size, "intermediate_size")))
        put("block_count", u32(try require(c.num_hidden_layers, "num_hidden_layers")))
        put("attention.head_count", u32(heads))
        put("attention.head_count_kv", u32(kvHeads))
        put("attention.key_length", u32(headDim))
        put("attention.value_length", u32(headDim))
        put("attention.layer_norm_rms_epsilon", .float32(Float(c.rms_norm_eps ?? 1e-6)))
        if let vocab = c.vocab_size { put("vocab_size", u32(vocab)) }

        let rope = c.rope_parameters?.global ?? c.rope_scaling
        let base = c.rope_parameters?.global.rope_theta ?? c.rope_theta ?? 10000
        put("rope.freq_base", .float32(Float(base)))
        var ropeDimensions = headDim
        if let partial = c.partial_rotary_factor ?? c.rope_parameters?.global.partial_rotary_factor { ropeDimensions = Int((Double(headDim) * partial).rounded()) }
        put("rope.dimension_count", u32(ropeDimensions))

        var extra: [(name: String, values: [Float])] = []
        if let rope {
            switch rope.kind {
            case "default", "none":
                break
            case "linear":
                put("rope.scaling.type", .string("linear"))
                put("rope.scaling.factor", .float32(Float(rope.factor ?? 1)))
            case "llama3":
                put("rope.scaling.type", .string("llama3"))
                put("rope.scaling.factor", .float32(Float(rope.factor ?? 8)))
                put("rope.scaling.low_freq_factor", .float32(Float(rope.low_freq_factor ?? 1)))
                put("rope.scaling.high_freq_factor", .float32(Float(rope.high_freq_factor ?? 4)))
                put("rope.scaling.original_context_length", u32(rope.original_max_position_embeddings ?? 8192))
            case "longrope", "su":
                guard let long = rope.long_factor, let short = rope.short_factor, long.count == ropeDimensions / 2,
                      short.count == ropeDimensions / 2 else {
                    throw .invalidConfig(key: "rope_scaling", reason: "LongRoPE needs long_factor and short_factor of \(ropeDimensions / 2) values")
                }
                // Phi-3's rule, as llama.cpp converts it: the attention factor grows with the extension.
                let original = c.original_max_position_embeddings ?? rope.original_max_position_embeddings ?? context
                let scale = Double(context) / Double(original)
                let attentionFactor = scale > 1 ? (1 + log(scale) / log(Double(original))).squareRoot() : 1
                put("rope.scaling.attn_factor", .float32(Float(attentionFactor)))
                put("rope.scaling.original_context_length", u32(original))
                extra = [("rope_factors_long.weight", long.map(Float.init)), ("rope_factors_short.weight", short.map(Float.init))]
            default:
                throw .invalidConfig(key: "rope_scaling", reason: "\"\(rope.kind)\" scaling is not supported (linear, llama3, longrope are)")
            }
        }

        if a == "gemma3" {
            let layers = c.num_hidden_layers ?? 0
            if let window = c.sliding_window { put("attention.sliding_window", u32(window)) }
            if let types = c.layer_types {
                guard types.count == layers else {
                    throw .invalidConfig(key: "layer_types", reason: "\(types.count) entries for \(layers) layers")
                }
                put("attention.sliding_window_pattern", .array(.bool(types.map { $0 == "sliding_attention" })))
            } else {
                put("attention.sliding_window_pattern", u32(c.sliding_window_pattern ?? 6))
            }
            let localBase = c.rope_parameters?.sliding_attention?.rope_theta ?? c.rope_local_base_freq ?? 10000
            put("rope.freq_base_swa", .float32(Float(localBase)))
            if let softcap = c.final_logit_softcapping { put("final_logit_softcapping", .float32(Float(softcap))) }
            if let scalar = c.query_pre_attn_scalar, scalar > 0 { put("attention.scale", .float32(Float(1 / scalar.squareRoot()))) }
        }

        if let generation {
            if let temperature = generation.temperature { m.append(("general.sampling.temp", .float32(Float(temperature)))) }
            if let topK = generation.top_k { m.append(("general.sampling.top_k", .int32(Int32(clamping: topK)))) }
            if let topP = generation.top_p { m.append(("general.sampling.top_p", .float32(Float(topP)))) }
            if let minP = generation.min_p { m.append(("general.sampling.min_p", .float32(Float(minP)))) }
        }
        return (m, extra)
    }
}
