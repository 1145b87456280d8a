// The activation buffers of one forward pass, allocated once per model and shared by the layers:
// the residual stream, the normalized stream, Q/K/V, attention output, the projected block output,
// the FFN's hidden rows and the logit rows.

import EmberCompute

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
    /// The greedy token of each logit row, when the caller asks for tokens instead of logits.
    let greedyTokens = UnsafeMutablePointer<Int32>.allocate(capacity: Workspace.logitRowLimit)
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
        let rowFloats = 3 * p.embeddingLength + 2 * qWidth + 2 * kvWidth + p.feedForwardLength
        bytes = 4 * (rows * rowFloats + Self.logitRowLimit * (p.embeddingLength + p.vocabularySize))
    }

    deinit { greedyTokens.deallocate() }
}
