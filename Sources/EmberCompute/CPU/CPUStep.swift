// The CPU backend's copy of the current step (`Backend.beginStep`) and the step-level operations that
// it runs as its hardware needs: rows multiplied a segment at a time, where a segment is one
// sequence's prompt chunk (computed as that chunk alone) or a run of single-token steps of different
// sequences (each computed exactly as it would be alone, whatever else is in the segment). The copy
// keeps its storage from step to step, so no step allocates.

extension CPUBackend {
    /// Rows multiplied together, and whether each is a single-token step that must compute as alone.
    struct Segment: Equatable {
        let rows: Range<Int>
        let singleSteps: Bool
    }

    /// The current step's inputs, copied into storage the backend keeps.
    final class StepState {
        var tokens: [Int32] = []
        var logitRows: [Int] = []
        var segments: [Segment] = []

        func take(_ step: StepInputs) {
            tokens.removeAll(keepingCapacity: true)
            tokens.append(contentsOf: step.tokens)
            logitRows.removeAll(keepingCapacity: true)
            logitRows.append(contentsOf: step.logitRows)
            segments.removeAll(keepingCapacity: true)
            for sequence in step.sequences where !sequence.rows.isEmpty {
                let single = sequence.rows.count == 1
                if single, let last = segments.last, last.singleSteps, last.rows.upperBound == sequence.rows.lowerBound {
                    segments[segments.count - 1] = Segment(rows: last.rows.lowerBound ..< sequence.rows.upperBound, singleSteps: true)
                } else {
                    segments.append(Segment(rows: sequence.rows, singleSteps: single))
                }
            }
        }
    }

    public func beginStep(_ step: StepInputs) { current.take(step) }

    public func run(_ operation: StepOperation) {
        switch operation {
        case let .embed(table, output): embed(table: table, into: output)
        case let .rmsNorm(x, adding, weight, epsilon, output): rmsNorm(x, adding: adding, weight: weight, epsilon: epsilon, into: output)
        case let .matmul(x, weights, outputs): matmul(x, weights: weights, into: outputs)
        case let .matmulGated(x, gate, up, activation, output): matmulGated(x, gate: gate, up: up, activation: activation, into: output)
        case let .attention(query, key, value, sequences, rope, shape, output):
            attention(query: query, key: key, value: value, sequences: sequences, rope: rope, shape: shape, into: output)
        case let .logits(x, gathered, weights, outputs): logits(x, gathered: gathered, weights: weights, into: outputs)
        case let .addBias(x, bias): addBias(x, bias: bias)
        case let .rmsNormHeads(x, headDimension, weight, epsilon): rmsNormHeads(x, headDimension: headDimension, weight: weight, epsilon: epsilon)
        case let .scale(x, factor): scale(x, by: factor)
        case let .softcap(x, rows, cap): softcap(x, rows: rows, cap: cap)
        }
    }

    func matmul(_ x: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        for segment in current.segments {
            matmul(x, rows: segment.rows, singleSteps: segment.singleSteps, weights: weights, into: outputs)
        }
    }

    func matmulGated(_ x: Tensor, gate: Tensor, up: Tensor, activation: GateActivation, into output: Tensor) {
        for segment in current.segments {
            matmulGated(x, rows: segment.rows, singleSteps: segment.singleSteps, gate: gate, up: up, activation: activation,
                        into: output)
        }
    }

    func logits(_ x: Tensor, gathered: Tensor, weights: [Tensor], into outputs: [Tensor]) {
        for (index, row) in current.logitRows.enumerated() {
            gathered.floats(row: index).update(from: x.floats(row: row), count: x.rowLength)
        }
        guard !current.logitRows.isEmpty else { return }
        matmul(gathered, rows: 0 ..< current.logitRows.count, singleSteps: true, weights: weights, into: outputs)
    }

    func embed(table: Tensor, into output: Tensor) {
        current.tokens.withUnsafeBufferPointer { tokens in
            forEachRow(tokens.count, width: table.rowLength, EmbedWork(backend: self, tokens: tokens, table: table, output: output))
        }
    }

    private struct EmbedWork: RowWork {
        let backend: CPUBackend
        let tokens: UnsafeBufferPointer<Int32>
        let table: Tensor, output: Tensor

        func run(row: Int) {
            let token = Int(tokens[row])
            precondition(token >= 0 && token < table.rowCount, "token id \(token) outside the vocabulary")
            backend.dequantizeRow(table, row: token, into: output.floats(row: row))
        }
    }

    func addBias(_ x: Tensor, bias: Tensor) {
        let width = x.rowLength, b = bias.floats(row: 0)
        for row in 0 ..< current.tokens.count {
            let v = x.floats(row: row)
            for i in 0 ..< width { v[i] += b[i] }
        }
    }

    func rmsNormHeads(_ x: Tensor, headDimension: Int, weight: Tensor, epsilon: Float) {
        precondition(x.rowLength % headDimension == 0 && weight.rowLength == headDimension && weight.type == .f32)
        let gain = weight.floats(row: 0)
        for row in 0 ..< current.tokens.count {
            let values = x.floats(row: row)
            for head in stride(from: 0, to: x.rowLength, by: headDimension) {
                let v = values + head
                var squares: Float = 0
                for i in 0 ..< headDimension { squares += v[i] * v[i] }
                let scale = 1 / (squares / Float(headDimension) + epsilon).squareRoot()
                for i in 0 ..< headDimension { v[i] = v[i] * scale * gain[i] }
            }
        }
    }
}
