// What sets an architecture of the Llama family apart inside the shared decoder (Llama.swift): how
// RoPE pairs values, whether the Q, K and V projections carry biases, whether Q and K are normalized
// per head. Each architecture's file says its own.

import EmberCompute

struct DecoderTraits: Sendable {
    /// Which values of a head RoPE turns together.
    let ropePairing: RopePairing
    /// Whether `attn_q.bias`, `attn_k.bias` and `attn_v.bias` are added after the projections.
    var attentionBiases = false
    /// Whether each head of Q and K is RMS-normalized (`attn_q_norm`, `attn_k_norm`) before RoPE.
    var queryKeyNorms = false
    /// Whether Q, K and V come from one weight (`attn_qkv`) and the gate and up projections from one
    /// (`ffn_up`, gate rows first), instead of a weight each.
    var fusedProjections = false
}
