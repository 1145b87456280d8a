// What every architecture's decoder shares: the frame around its blocks (hyper-parameters, embedding
// table, output head, activation buffers, caches), and the building blocks its forward pass composes:
// checking a batch, multiplying a batch a segment at a time, attention over each sequence's cache,
// and the output head (final norm, the rows that want logits, the vocabulary projection and an
// optional softcap).

import EmberCompute
import EmberTrace

/// The parts every decoder has besides its blocks.
struct DecoderFrame {
    let parameters: LlamaHyperParameters
    let backend: Backend
    let promptChunkTokens: Int
    /// A prompt chunk and the decode steps of other sequences.
    let maxBatchTokens: Int
    let tokenEmbedding: Tensor  // (vocab, embd)
    let outputNorm: Tensor  // (embd)
    let output: [Tensor]  // (embd -> vocab): `output.weight`, or the embeddings when the file has none
    /// Each layer's sliding window; nil where a layer sees every position.
    let windows: [Int?]
    let workspace: Workspace
    /// "blk.0", "blk.1", ...: the trace span of each layer, named after its tensors.
    let layerNames: [String]

    init(parameters p: LlamaHyperParameters, weights: WeightLoader, promptChunkTokens: Int, windows: [Int?]? = nil) throws(ModelError) {
        parameters = p
        backend = weights.backend
        self.promptChunkTokens = promptChunkTokens
        maxBatchTokens = promptChunkTokens + Workspace.logitRowLimit
        tokenEmbedding = try weights.tensor("token_embd.weight", shape: [p.embeddingLength, p.vocabularySize])
        outputNorm = try weights.tensor("output_norm.weight", shape: [p.embeddingLength])
        output = [try weights.optionalTensor("output.weight", shape: [p.embeddingLength, p.vocabularySize]) ?? tokenEmbedding]
        self.windows = windows ?? Array(repeating: nil, count: p.blockCount)
        workspace = Workspace(backend: backend, parameters: p, rows: maxBatchTokens)
        layerNames = (0 ..< p.blockCount).map { "blk.\($0)" }
    }
}

/// A model built on a `DecoderFrame`: the frame answers most of what `LanguageModel` asks, and the
/// architecture its blocks.
protocol Decoder: LanguageModel {
    var frame: DecoderFrame { get }
    /// The cap on the final logits (Gemma's), if any.
    var finalLogitSoftcap: Float? { get }
    /// Checks the batch, embeds its tokens and runs every block, leaving the last block's output for
    /// the output head.
    func forwardBlocks(_ batch: ForwardBatch) throws(ModelError)
}

extension Decoder {
    public var backend: Backend { frame.backend }
    public var promptChunkTokens: Int { frame.promptChunkTokens }
    public var maxBatchTokens: Int { frame.maxBatchTokens }
    public var vocabularySize: Int { frame.parameters.vocabularySize }
    public var trainedContextLength: Int { frame.parameters.contextLength }
    public var activationBytes: Int { frame.workspace.bytes }

    public func checkCache(_ type: CacheType) throws(ModelError) {
        let width = frame.parameters.headDimension
        guard width % type.headMultiple == 0 else {
            throw .unsupportedCache("--cache-type \(type.rawValue) needs heads as wide as a multiple of \(type.headMultiple); this model's are \(width)")
        }
        guard backend.supportsCache(type.tensorType) else {
            throw .unsupportedCache("--cache-type \(type.rawValue) is not supported on \(backend.name) yet (f16 and f32 are)")
        }
    }

    /// A cache of `capacity` positions; a windowed layer's is a ring of its window and one prompt chunk.
    public func makeCache(capacity: Int, type: CacheType) -> KVCache {
        KVCache(backend: backend, capacity: capacity, windows: frame.windows, batchRows: promptChunkTokens, width: kvWidth, type: type)
    }

    public func cacheBytes(capacity: Int, type: CacheType) -> Int {
        KVCache.bytes(capacity: capacity, windows: frame.windows, batchRows: promptChunkTokens, width: kvWidth, type: type)
    }

    public func cacheBytesPerPosition(type: CacheType) -> Int {
        2 * frame.windows.filter { $0 == nil }.count * type.bytes(elements: kvWidth)
    }

    private var kvWidth: Int { frame.parameters.kvHeadCount * frame.parameters.headDimension }

    /// Hands the backend the batch's step, then its token embeddings into the residual stream, times
    /// `scale` when given.
    func embed(_ batch: ForwardBatch, scale: Float? = nil) {
        backend.beginStep(batch.step)
        Trace.span("token_embd", level: .layer) {
            backend.embed(table: frame.tokenEmbedding, into: frame.workspace.residual)
            if let scale { backend.scale(frame.workspace.residual, by: scale) }
        }
    }

    public func forward(_ batch: ForwardBatch) throws(ModelError) -> UnsafeMutableBufferPointer<Float> {
        try forwardBlocks(batch)
        let count = batch.logitRowCount
        return try outputHead(batch) { () throws(BackendError) in
            count > 0 ? try backend.hostFloats(frame.workspace.logits[0], rows: count) : UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }

    public func forwardGreedy(_ batch: ForwardBatch) throws(ModelError) -> UnsafeBufferPointer<Int32> {
        try forwardBlocks(batch)
        let count = batch.logitRowCount, tokens = frame.workspace.greedyTokens
        try outputHead(batch) { () throws(BackendError) in
            if count > 0 { try backend.argmaxRows(frame.workspace.logits[0], rows: count, into: tokens) }
        }
        return UnsafeBufferPointer(start: tokens, count: count)
    }

    /// After the last block: counts the batch into each cache, records the output head
    /// (`Workspace.projectLogits`) and runs `read`, which takes what the caller wants of the logits.
    private func outputHead<Result>(_ batch: ForwardBatch, read: () throws(BackendError) -> Result) throws(ModelError) -> Result {
        batch.advanceCaches()
        do {
            return try Trace.span("output", level: .layer) { () throws(BackendError) in
                frame.workspace.projectLogits(batch.logitRowCount, backend: backend, norm: frame.outputNorm,
                                              epsilon: frame.parameters.rmsEpsilon, output: frame.output, softcap: finalLogitSoftcap)
                return try read()
            }
        } catch {
            throw .backend(error)
        }
    }
}

/// Throws unless `batch` fits the model: its size, its logit rows, each cache's room, its token ids.
func checkBatch(_ batch: ForwardBatch, maxBatchTokens: Int, vocabularySize: Int) throws(ModelError) {
    guard batch.tokens.count <= maxBatchTokens else { throw .batchTooLarge(tokens: batch.tokens.count, limit: maxBatchTokens) }
    guard batch.logitRowCount <= Workspace.logitRowLimit else {
        throw .tooManyLogitRows(requested: batch.logitRowCount, limit: Workspace.logitRowLimit)
    }
    for (sequence, cache) in zip(batch.step.sequences, batch.caches) {
        if cache.length + sequence.rows.count > cache.capacity {
            throw .contextFull(needed: cache.length + sequence.rows.count, capacity: cache.capacity)
        }
        if sequence.rows.count > cache.batchRows { throw .batchTooLarge(tokens: sequence.rows.count, limit: cache.batchRows) }
    }
    for token in batch.tokens where token < 0 || Int(token) >= vocabularySize {
        throw .tokenOutOfRange(token: token, vocabularySize: vocabularySize)
    }
}

extension ForwardBatch {
    /// Counts the batch's tokens into each sequence's cache, once every layer has stored them.
    fileprivate func advanceCaches() {
        for (sequence, cache) in zip(step.sequences, caches) { cache.length += sequence.rows.count }
    }
}

extension Backend {
    /// Attention of layer `layer` for every sequence of the batch over its own cache (appending the
    /// batch's keys and values to it); `sequences` is reused storage.
    func attention(query: Tensor, key: Tensor, value: Tensor, layer: Int, batch: ForwardBatch, rope: RopeParameters,
                   shape: AttentionShape, sequences: inout [AttentionSequence], into output: Tensor) {
        sequences.removeAll(keepingCapacity: true)
        for (sequence, cache) in zip(batch.step.sequences, batch.caches) {
            sequences.append(AttentionSequence(rows: sequence.rows, keyCache: cache.keys[layer], valueCache: cache.values[layer],
                                               start: sequence.start))
        }
        attention(query: query, key: key, value: value, sequences: sequences, rope: rope, shape: shape, into: output)
    }
}

extension Workspace {
    /// The output head after the last block: the stream (with the last block's output `projected`
    /// joining it) normalized by `norm`, the `count` rows of the step that want logits projected by
    /// `output` into `logits` (each computed as if alone), capped by `softcap` when given.
    func projectLogits(_ count: Int, backend: Backend, norm: Tensor, epsilon: Float, output: [Tensor], softcap: Float?) {
        guard count > 0 else { return }
        backend.rmsNorm(residual, adding: projected[0], weight: norm, epsilon: epsilon, into: normed)
        backend.logits(normed, gathered: lastNormed, weights: output, into: logits)
        if let softcap { backend.softcap(logits[0], rows: count, cap: softcap) }
    }
}
