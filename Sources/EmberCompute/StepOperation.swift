// One operation of a step as a value: what a model asks of a backend between two `beginStep` calls.
// A backend runs each as it arrives (`Backend.run`) or records it (a GPU's command buffer); an
// observer such as the op tracer sees every operation by its name, with no forwarder per operation.
// All activation tensors are row-major with one row per token of the step.

public enum StepOperation {
    /// `output[r] = table[token r]`, dequantized to F32.
    case embed(table: Tensor, output: Tensor)
    /// RMS normalisation of the step's rows of the residual stream `x`: after `x[r] += adding[r]` when
    /// `adding` is given (the previous block's output joining the stream in the same pass),
    /// `output[r] = x[r] / sqrt(mean(x[r]^2) + epsilon) * weight`. `output` may be `x` (in place).
    case rmsNorm(x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, output: Tensor)
    /// `outputs[i][r] = weights[i] * x[r]` for each weight and each of the step's rows: several matrices
    /// that read the same input (Q/K/V, gate/up) run as one job over one prepared copy of the input.
    /// Each sequence's rows compute as they would in a step alone, whatever else shares the step.
    case matmul(x: Tensor, weights: [Tensor], outputs: [Tensor])
    /// The gated feed-forward input: `output[r] = act(gate * x[r]) * (up * x[r])` for the step's rows,
    /// each output element computed from its gate and up rows together, without storing either product.
    case matmulGated(x: Tensor, gate: Tensor, up: Tensor, activation: GateActivation, output: Tensor)
    /// Causal attention of each sequence of the batch over its own cache, all in one job. For each
    /// sequence, its rows of `query` and `key` are rotated to their positions `start ..< start +
    /// rows.count` (in place), keys and values stored in its caches at those positions, then each query
    /// row attends over the positions `shape` lets it see up to its own with an online softmax, writing
    /// its `output` row. A sequence's result does not depend on the others in the call.
    case attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                   shape: AttentionShape, output: Tensor)
    /// The logits of the step: row i of `outputs[j]` is `weights[j]` times the step's i-th logit row of
    /// `x`, gathered into `gathered` first, each row computed as if alone.
    case logits(x: Tensor, gathered: Tensor, weights: [Tensor], outputs: [Tensor])
    /// Adds the one-row `bias` to the step's rows of `x`, in place.
    case addBias(x: Tensor, bias: Tensor)
    /// RMS-normalizes each `headDimension`-wide head of the step's rows of `x` on its own, scaled by
    /// `weight` (one head wide), in place: Qwen3's and Gemma 3's norms of Q and K.
    case rmsNormHeads(x: Tensor, headDimension: Int, weight: Tensor, epsilon: Float)
    /// Multiplies the step's rows of `x` by `factor`, in place: Gemma's embedding scale.
    case scale(x: Tensor, factor: Float)
    /// `x = cap * tanh(x / cap)` on the first `rows` rows of `x`, in place: a final logit softcap.
    case softcap(x: Tensor, rows: Int, cap: Float)

    /// The operation's name in traces.
    public var name: String {
        switch self {
        case .embed: "embed"
        case .rmsNorm: "rms_norm"
        case .matmul: "matmul"
        case .matmulGated: "matmul_gated"
        case .attention: "attention"
        case .logits: "logits"
        case .addBias: "add_bias"
        case .rmsNormHeads: "rms_norm_heads"
        case .scale: "scale"
        case .softcap: "softcap"
        }
    }
}

/// The model's vocabulary for describing a step: each call hands its operation to `run`.
extension Backend {
    public func embed(table: Tensor, into output: Tensor) { run(.embed(table: table, output: output)) }

    public func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, into output: Tensor) {
        run(.rmsNorm(x: x, adding: adding, weight: weight, epsilon: epsilon, output: output))
    }

    public func matmul(_ x: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        run(.matmul(x: x, weights: weights, outputs: outputs))
    }

    public func matmulGated(_ x: Tensor, gate: Tensor, up: Tensor, activation: GateActivation, into output: Tensor) {
        run(.matmulGated(x: x, gate: gate, up: up, activation: activation, output: output))
    }

    public func attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                          shape: AttentionShape, into output: Tensor) {
        run(.attention(query: query, key: key, value: value, sequences: sequences, rope: rope, shape: shape, output: output))
    }

    public func logits(_ x: Tensor, gathered: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        run(.logits(x: x, gathered: gathered, weights: weights, outputs: outputs))
    }

    public func addBias(_ x: Tensor, bias: Tensor) { run(.addBias(x: x, bias: bias)) }

    public func rmsNormHeads(_ x: Tensor, headDimension: Int, weight: Tensor, epsilon: Float) {
        run(.rmsNormHeads(x: x, headDimension: headDimension, weight: weight, epsilon: epsilon))
    }

    public func scale(_ x: Tensor, by factor: Float) { run(.scale(x: x, factor: factor)) }

    public func softcap(_ x: Tensor, rows: Int, cap: Float) { run(.softcap(x: x, rows: rows, cap: cap)) }
}
