// Matrix multiplication on the CPU: `output[t][r] = dot(weight row r, input row t)`. The input is
// quantized once to 16 bits (for quantized weights), then the rows of all weights that share it are
// split evenly across the threads. Each thread walks its rows in small tiles and, within a tile, over
// every token, so a tile of weights is read from memory once per batch and reused from L1.

import EmberFormats

extension CPUBackend {
    /// Weight rows per tile: small enough to stay in L1 while every token of the batch reuses them.
    static let rowsPerTile = 16

    public func matmul(_ x: Tensor, rows: Int, weights: [Tensor], into outputs: [Tensor]) {
        precondition(weights.count == outputs.count)
        let width = x.rowLength
        for (weight, output) in zip(weights, outputs) {
            precondition(weight.rowLength == width && output.rowLength == weight.rowCount && output.rowCount >= rows,
                         "matmul shapes: \(weight.name) is \(weight.rowCount)x\(weight.rowLength), input width \(width)")
        }
        let quantized = weights.contains { !$0.type.usesFloatActivations }
        let activations = quantized ? quantizeInput(x, rows: rows) : nil

        let totalRows = weights.reduce(0) { $0 + $1.rowCount }
        pool.parallelFor(totalRows) { chunk in
            var first = 0
            for (weight, output) in zip(weights, outputs) {
                let lower = max(chunk.lowerBound - first, 0), upper = min(chunk.upperBound - first, weight.rowCount)
                first += weight.rowCount
                guard lower < upper else { continue }
                let local = lower ..< upper
                multiply(weight, rows: local, input: x, activations: activations, tokens: rows, into: output)
            }
        }
    }

    private func quantizeInput(_ x: Tensor, rows: Int) -> Q16Buffer {
        let width = x.rowLength
        var buffer = quantizedInputs[width]
        if buffer == nil || buffer!.capacityRows < rows {
            buffer = Q16Buffer(rowLength: width, capacityRows: max(rows, buffer?.capacityRows ?? 0))
            quantizedInputs[width] = buffer
        }
        let target = buffer!
        pool.parallelFor(rows) { range in
            for row in range { target.quantize(row: row, from: x.floats(row: row)) }
        }
        return target
    }

    private func multiply(_ weight: Tensor, rows: Range<Int>, input: Tensor, activations: Q16Buffer?, tokens: Int,
                          into output: Tensor) {
        switch weight.type {
        case .f32: multiplyFloat(F32Kernel.self, weight, rows: rows, input: input, tokens: tokens, into: output)
        case .f16: multiplyFloat(F16Kernel.self, weight, rows: rows, input: input, tokens: tokens, into: output)
        case .bf16: multiplyFloat(BF16Kernel.self, weight, rows: rows, input: input, tokens: tokens, into: output)
        case .q8_0: multiplyQuantized(Q8_0Kernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q4_0: multiplyQuantized(Q4_0Kernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q4_1: multiplyQuantized(Q4_1Kernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q5_0: multiplyQuantized(Q5_0Kernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q5_1: multiplyQuantized(Q5_1Kernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q4_K: multiplyQuantized(Q4_KKernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q5_K: multiplyQuantized(Q5_KKernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        case .q6_K: multiplyQuantized(Q6_KKernel.self, weight, rows: rows, input: activations!, tokens: tokens, into: output)
        default: preconditionFailure("bind() admits only supported types, not \(weight.type)")
        }
    }

    @inline(__always)
    private func multiplyQuantized<Kernel: QuantizedRowKernel>(_: Kernel.Type, _ weight: Tensor, rows: Range<Int>,
                                                               input: Q16Buffer, tokens: Int, into output: Tensor) {
        let rowBytes = weight.rowBytes, width = weight.rowLength
        let base = UnsafeRawPointer(weight.data)
        var tileStart = rows.lowerBound
        while tileStart < rows.upperBound {
            let tileEnd = min(tileStart + Self.rowsPerTile, rows.upperBound)
            for token in 0 ..< tokens {
                let x = input.row(token)
                let out = output.floats(row: token)
                for row in tileStart ..< tileEnd {
                    out[row] = Kernel.dot(base + row * rowBytes, x, count: width)
                }
            }
            tileStart = tileEnd
        }
    }

    @inline(__always)
    private func multiplyFloat<Kernel: FloatRowKernel>(_: Kernel.Type, _ weight: Tensor, rows: Range<Int>,
                                                       input: Tensor, tokens: Int, into output: Tensor) {
        let rowBytes = weight.rowBytes, width = weight.rowLength
        let base = UnsafeRawPointer(weight.data)
        var tileStart = rows.lowerBound
        while tileStart < rows.upperBound {
            let tileEnd = min(tileStart + Self.rowsPerTile, rows.upperBound)
            for token in 0 ..< tokens {
                let x = UnsafePointer(input.floats(row: token))
                let out = output.floats(row: token)
                for row in tileStart ..< tileEnd {
                    out[row] = Kernel.dot(base + row * rowBytes, x, count: width)
                }
            }
            tileStart = tileEnd
        }
    }
}

extension TensorType {
    /// Float weights multiply float activations; quantized ones multiply 16-bit quantized activations.
    var usesFloatActivations: Bool { self == .f32 || self == .f16 || self == .bf16 }
}
