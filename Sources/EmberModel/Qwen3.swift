// The Qwen3 architecture (dense Qwen3): Llama's decoder with each head of Q and K RMS-normalized
// before RoPE, NeoX ("rotate half") RoPE pairing, and a head width of its own
// (`attention.key_length`, not embedding / heads), as llama.cpp's src/models/qwen3.cpp and
// transformers' Qwen3Attention compute it; tensor names are Llama's plus `attn_q_norm`/`attn_k_norm`.

extension DecoderTraits {
    static let qwen3 = DecoderTraits(ropePairing: .halves, queryKeyNorms: true)
}
