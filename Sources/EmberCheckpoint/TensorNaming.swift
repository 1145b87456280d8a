// transformers' tensor names to GGUF's (`model.layers.3.self_attn.q_proj.weight` ->
// `blk.3.attn_q.weight`), per architecture, as llama.cpp's converter maps them; and what must change
// in a tensor on the way (Llama's Q and K rows reordered for GGUF's RoPE pairing, Gemma's norm
// weights stored as 1 + weight).

enum TensorNaming {
    /// Prefixes of the text model inside multimodal checkpoints (Gemma 3), and their plain form.
    static let textModelPrefixes = [("model.language_model.", "model."), ("language_model.model.", "model."),
                                    ("language_model.lm_head.", "lm_head.")]

    static let layerTensors: [String: String] = [
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
        "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
        "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
        "self_attn.qkv_proj.weight": "attn_qkv.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
        "mlp.gate_up_proj.weight": "ffn_up.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
    ]

    /// Gemma 3 normalizes each block's outputs too, so its norms are named by their place.
    static let gemma3LayerTensors: [String: String] = [
        "post_attention_layernorm.weight": "post_attention_norm.weight",
        "pre_feedforward_layernorm.weight": "ffn_norm.weight",
        "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    ]

    /// The GGUF name of `name`, nil for a tensor Ember does not use (a vision tower, RoPE's cached inverse frequencies).
    static func ggufName(_ name: String, architecture: String) -> String? {
        var name = name
        for (prefix, plain) in textModelPrefixes where name.hasPrefix(prefix) { name = plain + name.dropFirst(prefix.count) }
        switch name {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let layerPrefix = "model.layers."
        guard name.hasPrefix(layerPrefix) else { return nil }
        let rest = name.dropFirst(layerPrefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        let tensor = (architecture == "gemma3" ? gemma3LayerTensors[suffix] : nil) ?? layerTensors[suffix]
        return tensor.map { "blk.\(layer).\($0)" }
    }

    /// What loading must do to a tensor beyond renaming it.
    enum Change: Equatable {
        case none
        /// Rows reordered within each of `heads` heads from transformers' halves to GGUF's interleaved pairs.
        case interleaveHeads(heads: Int)
        /// Stored as 1 + weight (Gemma's RMSNorm scales by 1 + weight; GGUF's by the weight).
        case addOne
    }

    static func change(for ggufName: String, architecture: String, headCount: Int, kvHeadCount: Int) -> Change {
        switch architecture {
        case "llama":
            if ggufName.hasSuffix(".attn_q.weight") || ggufName.hasSuffix(".attn_q.bias") { return .interleaveHeads(heads: headCount) }
            if ggufName.hasSuffix(".attn_k.weight") || ggufName.hasSuffix(".attn_k.bias") { return .interleaveHeads(heads: kvHeadCount) }
            return .none
        case "gemma3":
            return ggufName.hasSuffix("norm.weight") ? .addOne : .none
        default:
            return .none
        }
    }
}
