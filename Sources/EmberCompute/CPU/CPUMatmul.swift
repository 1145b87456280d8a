// Matrix multiplication on the CPU: `output[t][r] = dot(weight row r, input row t)`. Several weights
// that read the same input (Q/K/V, gate/up) run as one job, their rows split evenly across the threads.
// Three paths:
//  - decode (fewer than `gemmThreshold` tokens): the input is quantized once to 16 bits and each
//    thread runs the C dot kernels of the CPU's level over its rows, all tokens at once, so each weight
//    byte is read once per step;
//  - prefill (more tokens): the input is transposed once, and each thread expands its weight rows to
//    floats a panel at a time and multiplies the panel with every token in the C GEMM, so a weight
//    block is decoded once for the whole prompt (no activation quantization at all);
//  - portable (no AVX2): the Swift kernels, rows in tiles of 16 reused across the tokens.

import CEmberKernels
import EmberFormats

extension CPUBackend {
    /// Weight rows per tile of the portable path: small enough to stay in L1 while every token reuses them.
    static let rowsPerTile = 16
    /// From this many tokens on, the C paths run the GEMM.
    static let gemmThreshold = 16
    /// Weight rows expanded to floats at a time by each thread of the GEMM path (a multiple of every
    /// level's GEMM tile rows).
    static let panelRows = 48

    public func matmul(_ x: Tensor, rows: Int, weights: [Tensor], into outputs: [Tensor]) {
        precondition(weights.count == outputs.count)
        let width = x.rowLength
        for (weight, output) in zip(weights, outputs) {
            precondition(weight.rowLength == width && output.rowLength == weight.rowCount && output.rowCount >= rows,
                         "matmul shapes: \(weight.name) is \(weight.rowCount)x\(weight.rowLength), input width \(width)")
        }
        if level == .portable {
            portableMatmul(x, rows: rows, weights: weights, into: outputs)
        } else if rows >= Self.gemmThreshold {
            gemmMatmul(x, rows: rows, weights: weights, into: outputs)
        } else {
            dotMatmul(x, rows: rows, weights: weights, into: outputs)
        }
    }

    /// Runs `body(weight, output, rows)` on each thread for its share of the weights' rows together.
    private func forEachRowChunk(_ weights: [Tensor], _ outputs: [Tensor], _ body: (Tensor, Tensor, Range<Int>) -> Void) {
        let totalRows = weights.reduce(0) { $0 + $1.rowCount }
        pool.parallelFor(totalRows) { chunk in
            var first = 0
            for (weight, output) in zip(weights, outputs) {
                let lower = max(chunk.lowerBound - first, 0), upper = min(chunk.upperBound - first, weight.rowCount)
                first += weight.rowCount
                if lower < upper { body(weight, output, lower ..< upper) }
            }
        }
    }

    private func dotMatmul(_ x: Tensor, rows tokens: Int, weights: [Tensor], into outputs: [Tensor]) {
        let width = x.rowLength
        let activations = weights.contains { !$0.type.usesFloatActivations } ? quantizeInput(x, rows: tokens) : nil
        forEachRowChunk(weights, outputs) { weight, output, rows in
            let kernels = native[weight.type]!
            let source = UnsafeRawPointer(weight.data + rows.lowerBound * weight.rowBytes)
            let target = output.floats(row: 0) + rows.lowerBound
            if let dot = kernels.quantizedDot, let a = activations {
                dot(source, weight.rowBytes, Int32(rows.count), Int32(width), a.quants, a.scales, a.sums, Int32(tokens),
                    target, output.rowLength)
            } else {
                kernels.floatDot!(source, weight.rowBytes, Int32(rows.count), Int32(width), x.floats(row: 0), width,
                                  Int32(tokens), target, output.rowLength)
            }
        }
    }

    private func gemmMatmul(_ x: Tensor, rows tokens: Int, weights: [Tensor], into outputs: [Tensor]) {
        let width = x.rowLength
        let columns = (tokens + 31) / 32 * 32  // a multiple of every level's GEMM tile tokens
        let transposed = transposedInput.floats(width * columns)
        pool.parallelFor(width) { elements in
            ek_transpose(x.floats(row: 0) + elements.lowerBound, width, Int32(tokens), Int32(elements.count),
                         transposed + elements.lowerBound * columns, columns)
        }
        let panels = weightPanels.floats(Self.panelRows * width * pool.threadCount)
        pool.run { thread in
            let panel = panels + thread * Self.panelRows * width
            let totalRows = weights.reduce(0) { $0 + $1.rowCount }
            let chunk = ThreadPool.chunk(thread, of: pool.threadCount, count: totalRows)
            var first = 0
            for (weight, output) in zip(weights, outputs) {
                let lower = max(chunk.lowerBound - first, 0), upper = min(chunk.upperBound - first, weight.rowCount)
                first += weight.rowCount
                guard lower < upper else { continue }
                let kernels = native[weight.type]!
                for start in stride(from: lower, to: upper, by: Self.panelRows) {
                    let count = min(Self.panelRows, upper - start)
                    kernels.toFloat(weight.data + start * weight.rowBytes, weight.rowBytes, Int32(count), Int32(width), panel)
                    kernels.gemm(panel, Int32(count), Int32(width), transposed, columns, Int32(tokens),
                                 output.floats(row: 0) + start, output.rowLength)
                }
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
        // A few rows are quicker on this thread than handed to the pool.
        if rows <= 4 {
            for row in 0 ..< rows { target.quantize(row: row, from: x.floats(row: row)) }
        } else {
            pool.parallelFor(rows) { range in
                for row in range { target.quantize(row: row, from: x.floats(row: row)) }
            }
        }
        return target
    }

    private func portableMatmul(_ x: Tensor, rows: Int, weights: [Tensor], into outputs: [Tensor]) {
        let quantized = weights.contains { !$0.type.usesFloatActivations }
        let activations = quantized ? quantizeInput(x, rows: rows) : nil
        forEachRowChunk(weights, outputs) { weight, output, local in
            multiply(weight, rows: local, input: x, activations: activations, tokens: rows, into: output)
        }
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
