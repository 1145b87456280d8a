// The `op` trace level: a Backend that wraps another and records one span per StepOperation, under
// the operation's name (`matmul`, `matmul_gated`, `attention` with its RoPE, `rms_norm`, ...) with its
// shapes and tensor types in `args`.
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

    public func run(_ operation: StepOperation) {
        Trace.span(operation.name, level: .op, args: arguments(of: operation)) { wrapped.run(operation) }
    }

    /// What a span records of an operation: its shapes, its weights' names and types.
    private func arguments(of operation: StepOperation) -> TraceArguments {
        switch operation {
        case let .embed(table, _):
            return ["rows": .int(rows), "table": .string(table.name), "type": "\(table.type)"]
        case let .rmsNorm(x, adding, weight, _, _):
            return ["rows": .int(rows), "width": .int(x.rowLength), "weight": .string(weight.name), "adds": .int(adding == nil ? 0 : 1)]
        case let .matmul(x, weights, _):
            let label = matmulLabel(weights)
            return ["weights": .string(label.weights), "type": .string(label.types), "shape": "\(rows)x\(x.rowLength) -> \(label.outputs)"]
        case let .matmulGated(x, gate, up, activation, _):
            let label = matmulLabel([gate, up])
            return ["weights": .string(label.weights), "type": .string(label.types), "activation": .string(activation.rawValue),
                    "shape": "\(rows)x\(x.rowLength) -> \(gate.rowCount)"]
        case let .attention(_, _, _, sequences, _, shape, _):
            return ["sequences": .int(sequences.count), "rows": .int(sequences.reduce(0) { $0 + $1.rows.count }),
                    "positions": .int(sequences.map { $0.start + $0.rows.count }.max() ?? 0), "heads": .int(shape.headCount),
                    "kv_heads": .int(shape.kvHeadCount), "head_dim": .int(shape.headDimension), "window": .int(shape.slidingWindow ?? 0),
                    "cache": "\(sequences.first.map { "\($0.keyCache.type)" } ?? "")"]
        case let .logits(x, _, weights, _):
            let label = matmulLabel(weights)
            return ["weights": .string(label.weights), "type": .string(label.types), "shape": "\(logitRows)x\(x.rowLength) -> \(label.outputs)"]
        case let .addBias(_, bias):
            return ["rows": .int(rows), "bias": .string(bias.name)]
        case let .rmsNormHeads(_, _, weight, _):
            return ["rows": .int(rows), "weight": .string(weight.name)]
        case let .scale(x, _):
            return ["rows": .int(rows), "width": .int(x.rowLength)]
        case let .softcap(x, rows, _):
            return ["rows": .int(rows), "width": .int(x.rowLength)]
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

    public var hostThreads: ThreadPool { wrapped.hostThreads }

    public func hostFloats(_ tensor: Tensor, rows: Int) throws(BackendError) -> UnsafeMutableBufferPointer<Float> {
        try wrapped.hostFloats(tensor, rows: rows)
    }

    public func argmaxRows(_ tensor: Tensor, rows: Int, into indices: UnsafeMutablePointer<Int32>) throws(BackendError) {
        try wrapped.argmaxRows(tensor, rows: rows, into: indices)
    }

    public func readRows(_ tensor: Tensor, _ rows: Range<Int>, into destination: UnsafeMutableRawPointer) throws(BackendError) {
        try wrapped.readRows(tensor, rows, into: destination)
    }

    public func supportsCache(_ type: TensorType) -> Bool { wrapped.supportsCache(type) }

    public func writeRows(_ tensor: Tensor, _ rows: Range<Int>, from source: UnsafeRawPointer) throws(BackendError) {
        try wrapped.writeRows(tensor, rows, from: source)
    }
}
