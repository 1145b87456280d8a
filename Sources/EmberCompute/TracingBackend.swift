// The `op` trace level: a Backend that wraps another and records one span per operation, named after
// the kernel (`matmul`, `matmul_gated`, `attention` with its RoPE, `rms_norm`, ...) with its shapes
// and tensor types in `args`.
// Models are handed this wrapper only when `op` is recorded, so the math never carries trace calls
// and the other levels pay nothing for it. Like the backends it wraps, it serves one forward pass at a
// time.

import EmberFormats
import EmberTrace

public final class TracingBackend: Backend, @unchecked Sendable {
    public let wrapped: Backend
    /// The weight names, types and output widths of each weight list a matmul has seen, by its first
    /// weight: built once rather than joined again at every call.
    private var matmulLabels: [ObjectIdentifier: (weights: String, types: String, outputs: String)] = [:]
    /// The current step's rows and logit rows, for the spans' arguments.
    private var rows = 0, logitRows = 0

    public init(wrapping backend: Backend) {
        wrapped = backend
    }

    public var name: String { wrapped.name }

    public func bind(_ view: TensorView) throws(BackendError) -> Tensor { try wrapped.bind(view) }

    public func makeTensor(name: String, type: TensorType, rows: Int, columns: Int) -> Tensor {
        wrapped.makeTensor(name: name, type: type, rows: rows, columns: columns)
    }

    public func slice(_ tensor: Tensor, rows: Range<Int>, name: String) -> Tensor {
        wrapped.slice(tensor, rows: rows, name: name)
    }

    public func beginStep(_ step: StepInputs) {
        rows = step.rowCount
        logitRows = step.logitRows.count
        Trace.span("begin_step", level: .op, args: ["rows": .int(rows), "sequences": .int(step.sequences.count)]) {
            wrapped.beginStep(step)
        }
    }

    public func embed(table: Tensor, into output: Tensor) {
        Trace.span("embed", level: .op, args: ["rows": .int(rows), "table": .string(table.name), "type": "\(table.type)"]) {
            wrapped.embed(table: table, into: output)
        }
    }

    public func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, into output: Tensor) {
        Trace.span("rms_norm", level: .op, args: ["rows": .int(rows), "width": .int(x.rowLength), "weight": .string(weight.name),
                                                   "adds": .int(adding == nil ? 0 : 1)]) {
            wrapped.rmsNorm(x, adding: adding, weight: weight, epsilon: epsilon, into: output)
        }
    }

    public func matmul(_ x: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        let label = matmulLabel(weights)
        Trace.span("matmul", level: .op, args: [
            "weights": .string(label.weights), "type": .string(label.types), "shape": "\(rows)x\(x.rowLength) -> \(label.outputs)",
        ]) {
            wrapped.matmul(x, weights: weights, into: outputs)
        }
    }

    public func matmulGated(_ x: Tensor, gate: Tensor, up: Tensor, activation: GateActivation, into output: Tensor) {
        let label = matmulLabel([gate, up])
        Trace.span("matmul_gated", level: .op, args: [
            "weights": .string(label.weights), "type": .string(label.types), "activation": .string(activation.rawValue),
            "shape": "\(rows)x\(x.rowLength) -> \(gate.rowCount)",
        ]) {
            wrapped.matmulGated(x, gate: gate, up: up, activation: activation, into: output)
        }
    }

    public func logits(_ x: Tensor, gathered: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        let label = matmulLabel(weights)
        Trace.span("logits", level: .op, args: [
            "weights": .string(label.weights), "type": .string(label.types), "shape": "\(logitRows)x\(x.rowLength) -> \(label.outputs)",
        ]) {
            wrapped.logits(x, gathered: gathered, weights: weights, into: outputs)
        }
    }

    private func matmulLabel(_ weights: [Tensor]) -> (weights: String, types: String, outputs: String) {
        let key = ObjectIdentifier(weights[0])
        if let label = matmulLabels[key] { return label }
        let label = (weights.map(\.name).joined(separator: ","), weights.map { "\($0.type)" }.joined(separator: ","),
                     weights.map { "\($0.rowCount)" }.joined(separator: "+"))
        matmulLabels[key] = label
        return label
    }

    public func attention(query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionSequence], rope: RopeParameters,
                          shape: AttentionShape, into output: Tensor) {
        Trace.span("attention", level: .op, args: [
            "sequences": .int(sequences.count), "rows": .int(sequences.reduce(0) { $0 + $1.rows.count }),
            "positions": .int(sequences.map { $0.start + $0.rows.count }.max() ?? 0), "heads": .int(shape.headCount),
            "kv_heads": .int(shape.kvHeadCount), "head_dim": .int(shape.headDimension), "window": .int(shape.slidingWindow ?? 0),
            "cache": "\(sequences.first.map { "\($0.keyCache.type)" } ?? "")",
        ]) {
            wrapped.attention(query: query, key: key, value: value, sequences: sequences, rope: rope, shape: shape, into: output)
        }
    }

    public func addBias(_ x: Tensor, bias: Tensor) {
        Trace.span("add_bias", level: .op, args: ["rows": .int(rows), "bias": .string(bias.name)]) {
            wrapped.addBias(x, bias: bias)
        }
    }

    public func rmsNormHeads(_ x: Tensor, headDimension: Int, weight: Tensor, epsilon: Float) {
        Trace.span("rms_norm_heads", level: .op, args: ["rows": .int(rows), "weight": .string(weight.name)]) {
            wrapped.rmsNormHeads(x, headDimension: headDimension, weight: weight, epsilon: epsilon)
        }
    }

    public func scale(_ x: Tensor, by factor: Float) {
        Trace.span("scale", level: .op, args: ["rows": .int(rows), "width": .int(x.rowLength)]) {
            wrapped.scale(x, by: factor)
        }
    }

    public func softcap(_ x: Tensor, rows: Int, cap: Float) {
        Trace.span("softcap", level: .op, args: ["rows": .int(rows), "width": .int(x.rowLength)]) {
            wrapped.softcap(x, rows: rows, cap: cap)
        }
    }

    public var hostThreads: ThreadPool { wrapped.hostThreads }

    public func hostFloats(_ tensor: Tensor, rows: Int) -> UnsafeMutableBufferPointer<Float> {
        wrapped.hostFloats(tensor, rows: rows)
    }
}
