// The Phi-3 architecture (Phi-3 and Phi-3.5 mini): Llama's decoder with Q, K and V in one weight
// and the gate and up projections in one (gate rows first), NeoX ("rotate half") RoPE over part of
// each head (`rope.dimension_count`), as llama.cpp's src/models/phi3.cpp and transformers'
// Phi3Attention/Phi3MLP compute it, with LongRoPE for the 128k-context models (Llama.swift's LongContextRope).

extension DecoderTraits {
    static let phi3 = DecoderTraits(ropePairing: .halves, fusedProjections: true)
}
