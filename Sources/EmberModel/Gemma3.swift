// The Gemma 3 architecture (text), as llama.cpp's src/models/gemma3.cpp and transformers'
// Gemma3ForCausalLM compute it: embeddings scaled by sqrt(n_embd); each block normalizes its input,
// attends (Q and K normalized per head, NeoX RoPE), normalizes the attention's output again
// (post-attention norm) before the residual add, and does the same around a GELU-gated FFN. Five of
// every six layers are local: they see only the last `attention.sliding_window` positions, with RoPE
// of their own base (10000 unless `rope.freq_base_swa` says otherwise) and no scaling, and their
// cache is a ring of the window; every sixth layer is global. The output projection is tied to the
// embeddings; a final logit softcap applies when the file names one. (GGUF norm weights already
// include Gemma's +1.)

import EmberCompute
import EmberFormats
import EmberTrace

public final class Gemma3: Decoder, @unchecked Sendable {
    struct Block {
        let attnNorm: Tensor  // (embd)
        let attnQKV: [Tensor]  // attn_q (embd -> heads*hd), attn_k, attn_v (embd -> kv_heads*hd)
        let attnQNorm: Tensor, attnKNorm: Tensor  // (hd)
        let attnOutput: [Tensor]  // (heads*hd -> embd)
        let postAttentionNorm: Tensor  // (embd)
        let ffnNorm: Tensor  // (embd)
        let ffnGate: Tensor, ffnUp: Tensor  // (embd -> ff)
        let ffnDown: [Tensor]  // (ff -> embd)
        let postFFNNorm: Tensor  // (embd)
        /// Local layers: the sliding window's shape and RoPE; global ones: the full context's.
        let shape: AttentionShape
        let rope: RopeParameters
    }

    public let architecture = "gemma3"
    let frame: DecoderFrame
    let blocks: [Block]
    let finalLogitSoftcap: Float?

    var parameters: LlamaHyperParameters { frame.parameters }
    public var positionEncoding: String {
        "RoPE base \(Int(parameters.ropeBase)) on global layers, \(Int(blocks.first { $0.shape.slidingWindow != nil }?.rope.base ?? 0)) "
            + "on local ones (sliding window \(frame.windows.compactMap { $0 }.first ?? 0))"
    }

    public init(file: any ModelSource, backend: Backend, promptChunkTokens: Int) throws(ModelError) {
        let embeddingRows = file.tensorInfo(named: "token_embd.weight")?.rowCount ?? 0
        let p = try LlamaHyperParameters(metadata: file.metadata, architecture: architecture, vocabularyFallback: embeddingRows)
        let settings = try Gemma3Settings(metadata: file.metadata, blockCount: p.blockCount)
        let weights = WeightLoader(file: file, backend: backend)
        let embd = p.embeddingLength, hd = p.headDimension, ff = p.feedForwardLength
        let qWidth = p.headCount * hd, kvWidth = p.kvHeadCount * hd

        // The query scale: `attention.scale` where the file gives it (from a checkpoint's
        // query_pre_attn_scalar); else llama.cpp's 1/sqrt(head_dim), except the 27B model's
        // 1/sqrt(n_embd / n_head), which it knows by its 62 layers.
        let scale = settings.attentionScale ?? 1 / Float(p.blockCount == 62 ? embd / p.headCount : hd).squareRoot()
        var frequencyScale: Float = 1
        if case let .linear(factor) = p.ropeScaling { frequencyScale = 1 / factor }
        let globalRope = RopeParameters(dimensions: p.ropeDimensions, pairing: .halves, base: p.ropeBase, frequencyScale: frequencyScale)
        let localRope = RopeParameters(dimensions: p.ropeDimensions, pairing: .halves, base: settings.localRopeBase)

        var blocks: [Block] = []
        for index in 0 ..< p.blockCount {
            let name = { (tensor: String) in "blk.\(index).\(tensor).weight" }
            let window = settings.windows[index]
            blocks.append(Block(
                attnNorm: try weights.tensor(name("attn_norm"), shape: [embd]),
                attnQKV: [try weights.tensor(name("attn_q"), shape: [embd, qWidth]),
                          try weights.tensor(name("attn_k"), shape: [embd, kvWidth]),
                          try weights.tensor(name("attn_v"), shape: [embd, kvWidth])],
                attnQNorm: try weights.tensor(name("attn_q_norm"), shape: [hd]),
                attnKNorm: try weights.tensor(name("attn_k_norm"), shape: [hd]),
                attnOutput: [try weights.tensor(name("attn_output"), shape: [qWidth, embd])],
                postAttentionNorm: try weights.tensor(name("post_attention_norm"), shape: [embd]),
                ffnNorm: try weights.tensor(name("ffn_norm"), shape: [embd]),
                ffnGate: try weights.tensor(name("ffn_gate"), shape: [embd, ff]),
                ffnUp: try weights.tensor(name("ffn_up"), shape: [embd, ff]),
                ffnDown: [try weights.tensor(name("ffn_down"), shape: [ff, embd])],
                postFFNNorm: try weights.tensor(name("post_ffw_norm"), shape: [embd]),
                shape: AttentionShape(headCount: p.headCount, kvHeadCount: p.kvHeadCount, headDimension: hd, scale: scale,
                                      slidingWindow: window),
                rope: window == nil ? globalRope : localRope))
        }
        self.blocks = blocks
        finalLogitSoftcap = settings.finalLogitSoftcap
        frame = try DecoderFrame(parameters: p, weights: weights, promptChunkTokens: promptChunkTokens, windows: settings.windows)
    }

    func forwardBlocks(_ batch: ForwardBatch) throws(ModelError) {
        try checkBatch(batch, maxBatchTokens: maxBatchTokens, vocabularySize: vocabularySize)
        embed(batch, scale: Float(parameters.embeddingLength).squareRoot())
        for (layer, block) in blocks.enumerated() {
            Trace.span(frame.layerNames[layer], level: .layer) { forward(block, layer: layer, batch: batch) }
        }
    }

    /// One block: attention and the FFN, each between its input norm and its output norm. Each
    /// block's normalized output joins the residual stream in the norm that next reads it.
    private func forward(_ block: Block, layer: Int, batch: ForwardBatch) {
        let w = frame.workspace, epsilon = parameters.rmsEpsilon, headDimension = parameters.headDimension
        let (query, key, value) = (w.qkv[0], w.qkv[1], w.qkv[2])
        let attentionInput = w.normed
        backend.rmsNorm(w.residual, adding: layer == 0 ? nil : w.projected[0], weight: block.attnNorm, epsilon: epsilon,
                        into: attentionInput)
        backend.matmul(attentionInput, weights: block.attnQKV, into: w.qkv)
        backend.rmsNormHeads(query, headDimension: headDimension, weight: block.attnQNorm, epsilon: epsilon)
        backend.rmsNormHeads(key, headDimension: headDimension, weight: block.attnKNorm, epsilon: epsilon)
        backend.attention(query: query, key: key, value: value, layer: layer, batch: batch, rope: block.rope, shape: block.shape,
                          sequences: &w.attentionSequences, into: w.attention)
        let attentionOutput = w.projected[0]
        backend.matmul(w.attention, weights: block.attnOutput, into: w.projected)
        backend.rmsNorm(attentionOutput, adding: nil, weight: block.postAttentionNorm, epsilon: epsilon, into: attentionOutput)

        let ffnInput = w.normed
        backend.rmsNorm(w.residual, adding: attentionOutput, weight: block.ffnNorm, epsilon: epsilon, into: ffnInput)
        backend.matmulGated(ffnInput, gate: block.ffnGate, up: block.ffnUp, activation: .geluTanh, into: w.hidden)
        let ffnOutput = w.projected[0]
        backend.matmul(w.hidden, weights: block.ffnDown, into: w.projected)
        backend.rmsNorm(ffnOutput, adding: nil, weight: block.postFFNNorm, epsilon: epsilon, into: ffnOutput)
    }
}

/// What Gemma 3 adds to the Llama family's metadata: which layers are local and their window, the
/// local layers' RoPE base, the final logit softcap, and the query scale when the file gives it.
struct Gemma3Settings {
    /// Per layer: the sliding window of a local layer, nil for a global one.
    let windows: [Int?]
    let localRopeBase: Float
    let finalLogitSoftcap: Float?
    let attentionScale: Float?

    init(metadata: GGUFMetadata, blockCount: Int) throws(ModelError) {
        attentionScale = try ModelError.decodingMetadata { try metadata.floatIfPresent("gemma3.attention.scale") }
        (windows, localRopeBase, finalLogitSoftcap) = try ModelError.decodingMetadata {
            let window = try metadata.intIfPresent("gemma3.attention.sliding_window") ?? 0
            let patternKey = "gemma3.attention.sliding_window_pattern"
            // Which layers are local: an explicit list, or every layer but each `period`-th (llama.cpp's default 6).
            var local: [Bool]
            if case let .bool(flags)? = try? metadata.arrayIfPresent(patternKey) {
                guard flags.count == blockCount else {
                    throw ModelError.invalidHyperParameter(key: patternKey, reason: "\(flags.count) entries for \(blockCount) layers")
                }
                local = flags
            } else {
                let period = try metadata.intIfPresent(patternKey) ?? 6
                local = (0 ..< blockCount).map { period == 0 || $0 % period < period - 1 }
            }
            if window <= 0 { local = Array(repeating: false, count: blockCount) }
            let softcap = try metadata.floatIfPresent("gemma3.final_logit_softcapping") ?? 0
            return (local.map { $0 ? window : nil }, try metadata.floatIfPresent("gemma3.rope.freq_base_swa") ?? 10000,
                    softcap > 0 ? softcap : nil)
        }
    }
}
