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

    public init(wrapping backend: Backend) {
        wrapped = backend
    }

    public var name: String { wrapped.name }

    public func bind(_ view: TensorView) throws(BackendError) -> Tensor { try wrapped.bind(view) }

    public func makeTensor(name: String, type: TensorType, rows: Int, columns: Int) -> Tensor {
        wrapped.makeTensor(name: name, type: type, rows: rows, columns: columns)
    }

    public func embed(_ tokens: UnsafeBufferPointer<Int32>, table: Tensor, into output: Tensor) {
        Trace.span("embed", level: .op, args: ["rows": .int(tokens.count), "table": .string(table.name), "type": "\(table.type)"]) {
            wrapped.embed(tokens, table: table, into: output)
        }
    }

    public func rmsNorm(_ x: Tensor, adding: Tensor?, weight: Tensor, epsilon: Float, rows: Int, into output: Tensor) {
        Trace.span("rms_norm", level: .op, args: ["rows": .int(rows), "width": .int(x.rowLength), "weight": .string(weight.name),
                                                   "adds": .int(adding == nil ? 0 : 1)]) {
            wrapped.rmsNorm(x, adding: adding, weight: weight, epsilon: epsilon, rows: rows, into: output)
        }
    }

    public func matmul(_ x: Tensor, rows: Range<Int>, singleSteps: Bool, weights: [Tensor], into outputs: [Tensor]) {
        let label = matmulLabel(weights)
        Trace.span("matmul", level: .op, args: [
            "weights": .string(label.weights), "type": .string(label.types),
            "shape": "\(rows.count)x\(x.rowLength) -> \(label.outputs)", "first_row": .int(rows.lowerBound),
        ]) {
            wrapped.matmul(x, rows: rows, singleSteps: singleSteps, weights: weights, into: outputs)
        }
    }

    public func matmulGated(_ x: Tensor, rows: Range<Int>, singleSteps: Bool, gate: Tensor, up: Tensor, activation: GateActivation,
                            into output: Tensor) {
        let label = matmulLabel([gate, up])
        Trace.span("matmul_gated", level: .op, args: [
            "weights": .string(label.weights), "type": .string(label.types), "activation": .string(activation.rawValue),
            "shape": "\(rows.count)x\(x.rowLength) -> \(gate.rowCount)", "first_row": .int(rows.lowerBound),
        ]) {
            wrapped.matmulGated(x, rows: rows, singleSteps: singleSteps, gate: gate, up: up, activation: activation, into: output)
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

    public func gatherRows(_ x: Tensor, rows: [Int], into output: Tensor) {
        Trace.span("gather_rows", level: .op, args: ["rows": .int(rows.count)]) {
            wrapped.gatherRows(x, rows: rows, into: output)
        }
    }

    public func addBias(_ x: Tensor, rows: Range<Int>, bias: Tensor) {
        Trace.span("add_bias", level: .op, args: ["rows": .int(rows.count), "bias": .string(bias.name)]) {
            wrapped.addBias(x, rows: rows, bias: bias)
        }
    }

    public func rmsNormHeads(_ x: Tensor, rows: Range<Int>, headDimension: Int, weight: Tensor, epsilon: Float) {
        Trace.span("rms_norm_heads", level: .op, args: ["rows": .int(rows.count), "weight": .string(weight.name)]) {
            wrapped.rmsNormHeads(x, rows: rows, headDimension: headDimension, weight: weight, epsilon: epsilon)
        }
    }

    public func scale(_ x: Tensor, rows: Range<Int>, by factor: Float) {
        Trace.span("scale", level: .op, args: ["rows": .int(rows.count), "width": .int(x.rowLength)]) {
            wrapped.scale(x, rows: rows, by: factor)
        }
    }

    public func softcap(_ x: Tensor, rows: Range<Int>, cap: Float) {
        Trace.span("softcap", level: .op, args: ["rows": .int(rows.count), "width": .int(x.rowLength)]) {
            wrapped.softcap(x, rows: rows, cap: cap)
        }
    }

    public var hostThreads: ThreadPool { wrapped.hostThreads }

    public func hostFloats(_ tensor: Tensor, rows: Int) -> UnsafeMutableBufferPointer<Float> {
        wrapped.hostFloats(tensor, rows: rows)
    }
}
