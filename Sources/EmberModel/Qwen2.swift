// The Qwen2 architecture (Qwen2, Qwen2.5): Llama's decoder with biases on the Q, K and V projections
// and NeoX ("rotate half") RoPE pairing, as llama.cpp's src/models/qwen2.cpp and transformers'
// Qwen2Attention compute it; hyper-parameters and tensor names are Llama's under the `qwen2` prefix.

extension DecoderTraits {
    static let qwen2 = DecoderTraits(ropePairing: .halves, attentionBiases: true)
}
