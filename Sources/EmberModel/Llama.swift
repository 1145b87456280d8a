// The Llama architecture (SmolLM2, Llama 2/3, Mistral and their GGUF conversions), and the decoder
// its relatives share with it (DecoderTraits: Qwen2, Qwen3, Phi-3): pre-norm decoder blocks of
// RMSNorm -> grouped-query attention with RoPE -> residual, RMSNorm -> SwiGLU MLP -> residual, then
// a final RMSNorm and the output projection (tied to the token embeddings when the file has no
// `output.weight`). Property names follow the GGUF tensor names.

import EmberCompute
import EmberFormats
import EmberTrace

extension DecoderTraits {
    static let llama = DecoderTraits(ropePairing: .adjacent)
}

public final class Llama: Decoder, @unchecked Sendable {
    struct Block {
        let attnNorm: Tensor  // (embd)
        let attnQKV: [Tensor]  // attn_q (embd -> heads*hd), attn_k, attn_v (embd -> kv_heads*hd)
        let attnQKVBias: [Tensor]?  // (heads*hd), (kv_heads*hd) x2, with DecoderTraits.attentionBiases
        let attnQKNorm: [Tensor]?  // attn_q_norm, attn_k_norm (hd), with DecoderTraits.queryKeyNorms
        let attnOutput: [Tensor]  // (heads*hd -> embd)
        let ffnNorm: Tensor  // (embd)
        let ffnGate: Tensor  // (embd -> ff)
        let ffnUp: Tensor  // (embd -> ff)
        let ffnDown: [Tensor]  // (ff -> embd)
    }

    public let architecture: String
    let frame: DecoderFrame
    let blocks: [Block]
    let rope: RopeParameters
    /// LongRoPE's two sets of factors, which replace `rope`.
    let longContext: LongContextRope?

    public var parameters: LlamaHyperParameters { frame.parameters }

    public var positionEncoding: String {
        func number(_ value: Float) -> String { value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)" }
        let base = "RoPE base \(number(parameters.ropeBase))"
        if let longContext {
            return base + " with the file's LongRoPE factors (long ones beyond \(longContext.originalContext) tokens)"
        }
        return switch parameters.ropeScaling {
        case .none: base + " without scaling"
        case let .linear(factor): base + " with the file's linear scaling (factor \(number(factor)))"
        case let .llama3(factor, _, _, original):
            base + " with the file's llama3 scaling (factor \(number(factor)) of an original \(original))"
        }
    }

    public convenience init(file: any ModelSource, backend: Backend, promptChunkTokens: Int) throws(ModelError) {
        try self.init(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .llama)
    }

    init(file: any ModelSource, backend: Backend, promptChunkTokens: Int, traits: DecoderTraits) throws(ModelError) {
        let architecture = (try? file.metadata.string("general.architecture")) ?? "llama"
        let embeddingRows = file.tensorInfo(named: "token_embd.weight")?.rowCount ?? 0
        let p = try LlamaHyperParameters(metadata: file.metadata, architecture: architecture, vocabularyFallback: embeddingRows)
        let weights = WeightLoader(file: file, backend: backend)
        let embd = p.embeddingLength, qWidth = p.headCount * p.headDimension, kvWidth = p.kvHeadCount * p.headDimension

        var blocks: [Block] = []
        for index in 0 ..< p.blockCount {
            let name = { (tensor: String) in "blk.\(index).\(tensor).weight" }
            let ff = p.feedForwardLength
            let qkv: [Tensor], gate: Tensor, up: Tensor
            if traits.fusedProjections {
                let fused = try weights.tensor(name("attn_qkv"), shape: [embd, qWidth + 2 * kvWidth])
                qkv = [backend.slice(fused, rows: 0 ..< qWidth, name: name("attn_qkv") + "[q]"),
                       backend.slice(fused, rows: qWidth ..< qWidth + kvWidth, name: name("attn_qkv") + "[k]"),
                       backend.slice(fused, rows: qWidth + kvWidth ..< qWidth + 2 * kvWidth, name: name("attn_qkv") + "[v]")]
                let gateUp = try weights.tensor(name("ffn_up"), shape: [embd, 2 * ff])
                (gate, up) = (backend.slice(gateUp, rows: 0 ..< ff, name: name("ffn_up") + "[gate]"),
                              backend.slice(gateUp, rows: ff ..< 2 * ff, name: name("ffn_up") + "[up]"))
            } else {
                qkv = [try weights.tensor(name("attn_q"), shape: [embd, qWidth]),
                       try weights.tensor(name("attn_k"), shape: [embd, kvWidth]),
                       try weights.tensor(name("attn_v"), shape: [embd, kvWidth])]
                (gate, up) = (try weights.tensor(name("ffn_gate"), shape: [embd, ff]), try weights.tensor(name("ffn_up"), shape: [embd, ff]))
            }
            blocks.append(Block(
                attnNorm: try weights.tensor(name("attn_norm"), shape: [embd]),
                attnQKV: qkv,
                attnQKVBias: traits.attentionBiases ? [try weights.tensor("blk.\(index).attn_q.bias", shape: [qWidth]),
                                                       try weights.tensor("blk.\(index).attn_k.bias", shape: [kvWidth]),
                                                       try weights.tensor("blk.\(index).attn_v.bias", shape: [kvWidth])] : nil,
                attnQKNorm: traits.queryKeyNorms ? [try weights.tensor(name("attn_q_norm"), shape: [p.headDimension]),
                                                    try weights.tensor(name("attn_k_norm"), shape: [p.headDimension])] : nil,
                attnOutput: [try weights.tensor(name("attn_output"), shape: [qWidth, embd])],
                ffnNorm: try weights.tensor(name("ffn_norm"), shape: [embd]),
                ffnGate: gate,
                ffnUp: up,
                ffnDown: [try weights.tensor(name("ffn_down"), shape: [ff, embd])]))
        }
        self.blocks = blocks

        var frequencyScale: Float = 1
        if case let .linear(factor) = p.ropeScaling { frequencyScale = 1 / factor }
        let factors = try weights.floats("rope_freqs.weight", count: p.ropeDimensions / 2) ?? p.llama3FrequencyFactors
        rope = RopeParameters(dimensions: p.ropeDimensions, pairing: traits.ropePairing, base: p.ropeBase,
                              frequencyScale: frequencyScale, frequencyFactors: factors)
        // LongRoPE (Phi-3's 128k models): per-pair factors for short contexts and for long ones, both
        // with the attention factor; llama.cpp's rule picks the long ones for a sequence whose context
        // (its cache) is longer than the original one.
        let pairs = p.ropeDimensions / 2
        if let long = try weights.floats("rope_factors_long.weight", count: pairs) {
            guard let short = try weights.floats("rope_factors_short.weight", count: pairs) else {
                throw .missingTensor("rope_factors_short.weight")
            }
            func longRoPE(_ factors: [Float]) -> RopeParameters {
                RopeParameters(dimensions: p.ropeDimensions, pairing: traits.ropePairing, base: p.ropeBase,
                               frequencyFactors: factors, magnitude: p.ropeAttentionFactor)
            }
            longContext = LongContextRope(short: longRoPE(short), long: longRoPE(long), originalContext: p.originalContextLength)
        } else {
            longContext = nil
        }

        self.architecture = architecture
        frame = try DecoderFrame(parameters: p, weights: weights, promptChunkTokens: promptChunkTokens)
    }

    var finalLogitSoftcap: Float? { nil }

    func forwardBlocks(_ batch: ForwardBatch) throws(ModelError) {
        try checkBatch(batch, maxBatchTokens: maxBatchTokens, vocabularySize: vocabularySize)
        embed(batch)
        let rope = longContext?.parameters(for: batch) ?? self.rope
        for (layer, block) in blocks.enumerated() {
            Trace.span(frame.layerNames[layer], level: .layer) { forward(block, layer: layer, batch: batch, rope: rope) }
        }
    }

    /// One decoder block over the batch's rows: attention then the MLP. Each block's output is added
    /// to the residual stream by the norm that next reads it (the first block's input is the embedding).
    private func forward(_ block: Block, layer: Int, batch: ForwardBatch, rope: RopeParameters) {
        let w = frame.workspace, epsilon = parameters.rmsEpsilon, headDimension = parameters.headDimension
        let (query, key, value) = (w.qkv[0], w.qkv[1], w.qkv[2])
        backend.rmsNorm(w.residual, adding: layer == 0 ? nil : w.projected[0], weight: block.attnNorm, epsilon: epsilon,
                        into: w.normed)
        backend.matmul(w.normed, weights: block.attnQKV, into: w.qkv)
        if let biases = block.attnQKVBias {
            for (output, bias) in zip(w.qkv, biases) { backend.addBias(output, bias: bias) }
        }
        if let norms = block.attnQKNorm {
            backend.rmsNormHeads(query, headDimension: headDimension, weight: norms[0], epsilon: epsilon)
            backend.rmsNormHeads(key, headDimension: headDimension, weight: norms[1], epsilon: epsilon)
        }
        backend.attention(query: query, key: key, value: value, layer: layer, batch: batch, rope: rope,
                          shape: parameters.attentionShape, sequences: &w.attentionSequences, into: w.attention)
        backend.matmul(w.attention, weights: block.attnOutput, into: w.projected)

        backend.rmsNorm(w.residual, adding: w.projected[0], weight: block.ffnNorm, epsilon: epsilon, into: w.normed)
        backend.matmulGated(w.normed, gate: block.ffnGate, up: block.ffnUp, activation: .silu, into: w.hidden)
        backend.matmul(w.hidden, weights: block.ffnDown, into: w.projected)
    }
}

/// LongRoPE's short and long factors, and the context beyond which a sequence takes the long ones.
struct LongContextRope {
    let short: RopeParameters
    let long: RopeParameters
    let originalContext: Int

    /// The factors of the batch's sequences (one context length for all: the engine's caches are
    /// all made with the same `-c`).
    func parameters(for batch: ForwardBatch) -> RopeParameters {
        let capacity = batch.caches.first?.capacity ?? 0
        precondition(batch.caches.allSatisfy { ($0.capacity > originalContext) == (capacity > originalContext) },
                     "LongRoPE sequences of short and long contexts in one batch")
        return capacity > originalContext ? long : short
    }
}
