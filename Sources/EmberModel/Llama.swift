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

public final class Llama: LanguageModel, @unchecked Sendable {
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
    public let parameters: LlamaHyperParameters
    public let backend: Backend
    public let promptChunkTokens: Int
    public let maxBatchTokens: Int
    let tokenEmbedding: Tensor  // (vocab, embd)
    let blocks: [Block]
    let outputNorm: Tensor  // (embd)
    let output: [Tensor]  // (embd -> vocab)
    let rope: RopeParameters
    let workspace: Workspace
    /// "blk.0", "blk.1", ...: the trace span of each layer, named after its tensors.
    let layerNames: [String]

    public var vocabularySize: Int { parameters.vocabularySize }
    public var trainedContextLength: Int { parameters.contextLength }
    public var activationBytes: Int { workspace.bytes }

    public var positionEncoding: String {
        func number(_ value: Float) -> String { value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)" }
        let base = "RoPE base \(number(parameters.ropeBase))"
        return switch parameters.ropeScaling {
        case .none: base + " without scaling"
        case let .linear(factor): base + " with the file's linear scaling (factor \(number(factor)))"
        case let .llama3(factor, _, _, original):
            base + " with the file's llama3 scaling (factor \(number(factor)) of an original \(original))"
        }
    }

    public convenience init(file: GGUFFile, backend: Backend, promptChunkTokens: Int) throws(ModelError) {
        try self.init(file: file, backend: backend, promptChunkTokens: promptChunkTokens, traits: .llama)
    }

    init(file: GGUFFile, backend: Backend, promptChunkTokens: Int, traits: DecoderTraits) throws(ModelError) {
        let architecture = (try? file.metadata.string("general.architecture")) ?? "llama"
        let embeddingRows = file.tensorInfo(named: "token_embd.weight")?.rowCount ?? 0
        let p = try LlamaHyperParameters(metadata: file.metadata, architecture: architecture, vocabularyFallback: embeddingRows)
        let weights = WeightLoader(file: file, backend: backend)
        let embd = p.embeddingLength, qWidth = p.headCount * p.headDimension, kvWidth = p.kvHeadCount * p.headDimension

        tokenEmbedding = try weights.tensor("token_embd.weight", shape: [embd, p.vocabularySize])
        var blocks: [Block] = []
        for index in 0 ..< p.blockCount {
            let name = { (tensor: String) in "blk.\(index).\(tensor).weight" }
            let ff = p.feedForwardLength
            let qkv: [Tensor], gate: Tensor, up: Tensor
            if traits.fusedProjections {
                let fused = try weights.tensor(name("attn_qkv"), shape: [embd, qWidth + 2 * kvWidth])
                qkv = [fused.rows(0 ..< qWidth, name: name("attn_qkv") + "[q]"),
                       fused.rows(qWidth ..< qWidth + kvWidth, name: name("attn_qkv") + "[k]"),
                       fused.rows(qWidth + kvWidth ..< qWidth + 2 * kvWidth, name: name("attn_qkv") + "[v]")]
                let gateUp = try weights.tensor(name("ffn_up"), shape: [embd, 2 * ff])
                (gate, up) = (gateUp.rows(0 ..< ff, name: name("ffn_up") + "[gate]"), gateUp.rows(ff ..< 2 * ff, name: name("ffn_up") + "[up]"))
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
        if file.tensorInfo(named: "rope_factors_long.weight") != nil {
            throw .invalidHyperParameter(key: "rope_factors_long.weight",
                                         reason: "LongRoPE scaling (Phi-3's 128k-context models) is not supported yet")
        }
        self.blocks = blocks
        layerNames = (0 ..< p.blockCount).map { "blk.\($0)" }
        outputNorm = try weights.tensor("output_norm.weight", shape: [embd])
        output = [try weights.optionalTensor("output.weight", shape: [embd, p.vocabularySize]) ?? tokenEmbedding]

        var frequencyScale: Float = 1
        if case let .linear(factor) = p.ropeScaling { frequencyScale = 1 / factor }
        let factors = try weights.floats("rope_freqs.weight", count: p.ropeDimensions / 2) ?? p.llama3FrequencyFactors
        rope = RopeParameters(dimensions: p.ropeDimensions, pairing: traits.ropePairing, base: p.ropeBase,
                              frequencyScale: frequencyScale, frequencyFactors: factors)

        self.architecture = architecture
        parameters = p
        self.backend = backend
        self.promptChunkTokens = promptChunkTokens
        maxBatchTokens = promptChunkTokens + Workspace.logitRowLimit
        workspace = Workspace(backend: backend, parameters: p, rows: maxBatchTokens)
    }

    public func makeCache(capacity: Int, type: CacheType) -> KVCache {
        KVCache(backend: backend, layers: parameters.blockCount, capacity: capacity,
                width: parameters.kvHeadCount * parameters.headDimension, type: type)
    }

    public func cacheBytesPerPosition(type: CacheType) -> Int {
        2 * parameters.blockCount * parameters.kvHeadCount * parameters.headDimension * type.elementBytes
    }

    public func forward(_ batch: ForwardBatch) throws(ModelError) -> UnsafeMutableBufferPointer<Float> {
        let rows = batch.tokens.count
        guard rows <= maxBatchTokens else { throw .batchTooLarge(tokens: rows, limit: maxBatchTokens) }
        let w = workspace
        guard batch.logitRowCount <= Workspace.logitRowLimit else {
            throw .tooManyLogitRows(requested: batch.logitRowCount, limit: Workspace.logitRowLimit)
        }
        for sequence in batch.sequences where sequence.cache.length + sequence.rows.count > sequence.cache.capacity {
            throw .contextFull(needed: sequence.cache.length + sequence.rows.count, capacity: sequence.cache.capacity)
        }
        for token in batch.tokens where token < 0 || Int(token) >= vocabularySize {
            throw .tokenOutOfRange(token: token, vocabularySize: vocabularySize)
        }
        let epsilon = parameters.rmsEpsilon

        Trace.span("token_embd", level: .layer) {
            batch.tokens.withUnsafeBufferPointer { backend.embed($0, table: tokenEmbedding, into: w.residual) }
        }
        for (layer, block) in blocks.enumerated() {
            Trace.span(layerNames[layer], level: .layer) {
                forward(block, layer: layer, batch: batch, rows: rows)
            }
        }
        for sequence in batch.sequences { sequence.cache.length += sequence.rows.count }

        w.logitRows.removeAll(keepingCapacity: true)
        for sequence in batch.sequences where sequence.wantsLogits { w.logitRows.append(sequence.rows.upperBound - 1) }
        let logitCount = w.logitRows.count
        guard logitCount > 0 else { return UnsafeMutableBufferPointer(start: nil, count: 0) }
        return Trace.span("output", level: .layer) {
            // The last block's output joins the stream as the final norm reads it.
            backend.rmsNorm(w.residual, adding: w.projected[0], weight: outputNorm, epsilon: epsilon, rows: rows, into: w.normed)
            backend.gatherRows(w.normed, rows: w.logitRows, into: w.lastNormed)
            // One row per sequence: each computed as if alone.
            backend.matmul(w.lastNormed, rows: 0 ..< logitCount, singleSteps: true, weights: output, into: w.logits)
            return backend.hostFloats(w.logits[0], rows: logitCount)
        }
    }

    /// One decoder block over the batch's rows: attention then the MLP. Each block's output is added
    /// to the residual stream by the norm that next reads it (the first block's input is the embedding).
    private func forward(_ block: Block, layer: Int, batch: ForwardBatch, rows: Int) {
        let w = workspace, shape = parameters.attentionShape, epsilon = parameters.rmsEpsilon
        backend.rmsNorm(w.residual, adding: layer == 0 ? nil : w.projected[0], weight: block.attnNorm, epsilon: epsilon,
                        rows: rows, into: w.normed)
        for segment in batch.segments {
            backend.matmul(w.normed, rows: segment.rows, singleSteps: segment.singleSteps, weights: block.attnQKV, into: w.qkv)
        }
        if let biases = block.attnQKVBias {
            for (output, bias) in zip(w.qkv, biases) { backend.addBias(output, rows: 0 ..< rows, bias: bias) }
        }
        if let norms = block.attnQKNorm {
            for (output, norm) in zip(w.qkv, norms) {
                backend.rmsNormHeads(output, rows: 0 ..< rows, headDimension: shape.headDimension, weight: norm, epsilon: epsilon)
            }
        }
        w.attentionSequences.removeAll(keepingCapacity: true)
        for sequence in batch.sequences {
            w.attentionSequences.append(AttentionSequence(rows: sequence.rows, keyCache: sequence.cache.keys[layer],
                                                          valueCache: sequence.cache.values[layer], start: sequence.cache.length))
        }
        backend.attention(query: w.qkv[0], key: w.qkv[1], value: w.qkv[2], sequences: w.attentionSequences, rope: rope,
                          shape: shape, into: w.attention)
        for segment in batch.segments {
            backend.matmul(w.attention, rows: segment.rows, singleSteps: segment.singleSteps, weights: block.attnOutput,
                           into: w.projected)
        }

        backend.rmsNorm(w.residual, adding: w.projected[0], weight: block.ffnNorm, epsilon: epsilon, rows: rows, into: w.normed)
        for segment in batch.segments {
            backend.matmulSwiGLU(w.normed, rows: segment.rows, singleSteps: segment.singleSteps, gate: block.ffnGate,
                                 up: block.ffnUp, into: w.hidden)
            backend.matmul(w.hidden, rows: segment.rows, singleSteps: segment.singleSteps, weights: block.ffnDown, into: w.projected)
        }
    }
}

/// Activation buffers for one forward pass of up to `rows` tokens, allocated once per model.
final class Workspace {
    let residual: Tensor  // (rows, embd) the residual stream
    let normed: Tensor  // (rows, embd)
    let qkv: [Tensor]  // (rows, heads*hd), (rows, kv_heads*hd) x2
    let attention: Tensor  // (rows, heads*hd)
    let projected: [Tensor]  // (rows, embd)
    let hidden: Tensor  // (rows, ff)
    let lastNormed: Tensor  // (logit rows, embd)
    let logits: [Tensor]  // (logit rows, vocab)
    var logitRows: [Int]
    /// Each sequence's part of the current layer's attention (storage kept from pass to pass).
    var attentionSequences: [AttentionSequence] = []
    /// Bytes of all the buffers above.
    let bytes: Int

    /// Most sequences of one batch that can ask for logits (a vocabulary-wide row each), and so most
    /// decode steps that join a prompt chunk in one pass.
    static let logitRowLimit = 64

    init(backend: Backend, parameters p: LlamaHyperParameters, rows: Int) {
        func make(_ name: String, _ columns: Int) -> Tensor {
            backend.makeTensor(name: name, type: .f32, rows: rows, columns: columns)
        }
        let qWidth = p.headCount * p.headDimension, kvWidth = p.kvHeadCount * p.headDimension
        residual = make("residual", p.embeddingLength)
        normed = make("normed", p.embeddingLength)
        qkv = [make("q", qWidth), make("k", kvWidth), make("v", kvWidth)]
        attention = make("attention", qWidth)
        projected = [make("projected", p.embeddingLength)]
        hidden = make("hidden", p.feedForwardLength)
        lastNormed = backend.makeTensor(name: "last_normed", type: .f32, rows: Self.logitRowLimit, columns: p.embeddingLength)
        logits = [backend.makeTensor(name: "logits", type: .f32, rows: Self.logitRowLimit, columns: p.vocabularySize)]
        logitRows = []
        logitRows.reserveCapacity(rows)
        let rowFloats = 3 * p.embeddingLength + 2 * qWidth + 2 * kvWidth + p.feedForwardLength
        bytes = 4 * (rows * rowFloats + Self.logitRowLimit * (p.embeddingLength + p.vocabularySize))
    }
}
