// Matrix multiplication on the CPU: `output[t][r] = dot(weight row r, input row t)`. Several weights
// that read the same input (Q/K/V) run as one job, the threads claiming units of their rows; the
// gated feed-forward computes each gate row with its up row on one thread and combines them at once.
// Three paths:
//  - decode (fewer than `gemmThreshold` tokens): the input is quantized once to 16 bits (and, for
//    AVX-512, split into byte planes for the split and row-group dots) and each thread runs
//    the C dot kernels of the CPU's level over its rows, all tokens at once, so each weight byte is
//    read once per step;
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
    /// Weight rows a thread handles at a time: expanded to floats by the GEMM path, combined by the gated FFN.
    /// A multiple of every level's GEMM tile rows (8 and 6), since a tile reads whole.
    static let panelRows = 48

    /// A matmul's input, prepared once for its path and shared by every thread.
    struct PreparedInput {
        enum Path { case portable, dot, gemm }
        let path: Path
        let x: Tensor
        /// The input's rows are `firstRow ..< firstRow + tokens` of `x` (and of the outputs).
        let firstRow: Int
        let tokens: Int
        /// The input quantized to 16 bits (dot and portable paths, quantized weights), with its split
        /// planes filled when a weight of the call takes the split dot.
        let quantized: Q16Buffer?
        let split: Bool
        /// The input transposed, `columns` tokens (zero-padded) per row of `x.rowLength` (GEMM path).
        let transposed: UnsafeMutablePointer<Float>?
        let columns: Int
        /// Each thread's `panelRows` weight rows expanded to floats (GEMM path).
        let panels: UnsafeMutablePointer<Float>?
    }

    /// `outputs[i][r] = weights[i] * x[r]` for r in `rows`, on the path their number picks (with
    /// `singleSteps`, the per-token path, on which each row computes as it would alone): the CPU's own
    /// operation, which the step's `matmul` runs a segment at a time.
    public func matmul(_ x: Tensor, rows: Range<Int>, singleSteps: Bool, weights: [Tensor], into outputs: [Tensor]) {
        precondition(weights.count == outputs.count)
        for (weight, output) in zip(weights, outputs) { checkShapes(x, rows: rows, weight: weight, output: output) }
        let totalRows = weights.reduce(0) { $0 + $1.rowCount }, units = rowUnits(totalRows)
        pool.runUnits(units.count, MatmulWork(backend: self, input: prepare(x, rows: rows, singleSteps: singleSteps, weights: weights),
                                              weights: weights, outputs: outputs, totalRows: totalRows, unitRows: units.rows))
    }

    /// The units of a matmul job (`ThreadPool.runUnits`) over `rows` rows, and the rows of each: about
    /// sixteen units per thread, whole panels each; the claims cost about 1% and the threads end
    /// within a unit.
    private func rowUnits(_ rows: Int) -> (count: Int, rows: Int) {
        let share = (rows + 16 * pool.threadCount - 1) / (16 * pool.threadCount)
        let unitRows = (share + Self.panelRows - 1) / Self.panelRows * Self.panelRows
        return ((rows + unitRows - 1) / unitRows, unitRows)
    }

    /// A unit of the rows of all the weights together.
    private struct MatmulWork: PoolUnitWork {
        let backend: CPUBackend
        let input: PreparedInput
        let weights: [Tensor]
        let outputs: [Tensor]
        let totalRows: Int
        let unitRows: Int

        func run(unit: Int, thread: Int) {
            let unitStart = unit * unitRows, unitEnd = min(unitStart + unitRows, totalRows)
            var first = 0
            for (weight, output) in zip(weights, outputs) {
                let lower = max(unitStart - first, 0), upper = min(unitEnd - first, weight.rowCount)
                first += weight.rowCount
                if lower < upper {
                    backend.multiplyRows(input, weight, rows: lower ..< upper, into: output.floats(row: input.firstRow) + lower,
                                         stride: output.rowLength, thread: thread)
                }
            }
        }
    }

    /// The gated FFN input over `rows`, as `matmul(_:rows:singleSteps:weights:into:)`.
    func matmulGated(_ x: Tensor, rows: Range<Int>, singleSteps: Bool, gate: Tensor, up: Tensor, activation: GateActivation,
                     into output: Tensor) {
        checkShapes(x, rows: rows, weight: gate, output: output)
        checkShapes(x, rows: rows, weight: up, output: output)
        let input = prepare(x, rows: rows, singleSteps: singleSteps, weights: [gate, up]), units = rowUnits(gate.rowCount)
        pool.runUnits(units.count, GatedWork(backend: self, input: input, gate: gate, up: up, activation: activation, output: output,
                                             unitRows: units.rows, ups: gatedScratch.floats(pool.threadCount * rows.count * Self.panelRows)))
    }

    /// A unit of the gate rows with the same up rows, a panel at a time: the up products wait in the
    /// thread's scratch while the gate products are turned into the output.
    private struct GatedWork: PoolUnitWork {
        let backend: CPUBackend
        let input: PreparedInput
        let gate: Tensor, up: Tensor
        let activation: GateActivation
        let output: Tensor
        let unitRows: Int
        let ups: UnsafeMutablePointer<Float>

        func run(unit: Int, thread: Int) {
            let tokens = input.tokens, panelRows = CPUBackend.panelRows
            let scratch = ups + thread * tokens * panelRows
            let unitEnd = min((unit + 1) * unitRows, gate.rowCount)
            for start in stride(from: unit * unitRows, to: unitEnd, by: panelRows) {
                let part = start ..< min(start + panelRows, unitEnd)
                let gates = output.floats(row: input.firstRow) + start
                backend.multiplyRows(input, gate, rows: part, into: gates, stride: output.rowLength, thread: thread)
                backend.multiplyRows(input, up, rows: part, into: scratch, stride: part.count, thread: thread)
                for token in 0 ..< tokens {
                    let gateRow = gates + token * output.rowLength, upRow = scratch + token * part.count
                    switch activation {
                    case .silu: siluTimes(gateRow, upRow, count: part.count)
                    case .geluTanh: geluTanhTimes(gateRow, upRow, count: part.count)
                    }
                }
            }
        }
    }

    private func checkShapes(_ x: Tensor, rows: Range<Int>, weight: Tensor, output: Tensor) {
        precondition(weight.rowLength == x.rowLength && output.rowLength == weight.rowCount && rows.lowerBound >= 0
                     && output.rowCount >= rows.upperBound && x.rowCount >= rows.upperBound,
                     "matmul shapes: \(weight.name) is \(weight.rowCount)x\(weight.rowLength), input width \(x.rowLength)")
    }

    /// Quantizes (for quantized weights; split too when one takes the split dot) or transposes the
    /// input rows, as the path for their number needs; single steps always take the per-token path, on
    /// which each token's result is the same in any batch.
    private func prepare(_ x: Tensor, rows: Range<Int>, singleSteps: Bool, weights: [Tensor]) -> PreparedInput {
        let tokens = rows.count
        if level == .portable || tokens < Self.gemmThreshold || singleSteps {
            let quantized = weights.contains { !$0.type.usesFloatActivations }
            let split = level == .avx512 && x.rowLength % 64 == 0 && weights.contains { native[$0.type]?.splitDot != nil }
            return PreparedInput(path: level == .portable ? .portable : .dot, x: x, firstRow: rows.lowerBound, tokens: tokens,
                                 quantized: quantized ? quantizeInput(x, rows: rows, split: split) : nil, split: split,
                                 transposed: nil, columns: 0, panels: nil)
        }
        let width = x.rowLength
        let columns = (tokens + 31) / 32 * 32  // a multiple of every level's GEMM tile tokens (32 and 16)
        let transposed = transposedInput.floats(width * columns)
        pool.parallelFor(width, TransposeWork(x: x, firstRow: rows.lowerBound, tokens: tokens, transposed: transposed, columns: columns))
        return PreparedInput(path: .gemm, x: x, firstRow: rows.lowerBound, tokens: tokens, quantized: nil, split: false,
                             transposed: transposed, columns: columns,
                             panels: weightPanels.floats(Self.panelRows * width * pool.threadCount))
    }

    /// Elements `range` of every token, transposed into `columns`-token rows.
    private struct TransposeWork: PoolRangeWork {
        let x: Tensor
        let firstRow: Int
        let tokens: Int
        let transposed: UnsafeMutablePointer<Float>
        let columns: Int

        func run(_ range: Range<Int>) {
            ek_transpose(x.floats(row: firstRow) + range.lowerBound, x.rowLength, Int32(tokens), Int32(range.count),
                         transposed + range.lowerBound * columns, columns)
        }
    }

    /// Rows `rows` of `weight` times every token of the input, into `target[t * stride + r - rows.lowerBound]`,
    /// on the calling thread (`thread` picks its scratch).
    private func multiplyRows(_ input: PreparedInput, _ weight: Tensor, rows: Range<Int>,
                              into target: UnsafeMutablePointer<Float>, stride: Int, thread: Int) {
        let width = weight.rowLength, tokens = input.tokens
        let source = UnsafeRawPointer(weight.data + rows.lowerBound * weight.rowBytes)
        switch input.path {
        case .portable:
            multiplyPortable(weight, rows: rows, input: input, into: target, stride: stride)
        case .dot:
            let kernels = native[weight.type]!
            if let dot = kernels.splitDot, input.split, let a = input.quantized {
                dot(source, weight.rowBytes, Int32(rows.count), Int32(width), a.high, a.low, a.pairScales, a.groupedSums, Int32(tokens),
                    target, stride)
            } else if let dot = kernels.quantizedDot, let a = input.quantized {
                dot(source, weight.rowBytes, Int32(rows.count), Int32(width), a.quants, a.scales, a.sums, Int32(tokens),
                    target, stride)
            } else {
                kernels.floatDot!(source, weight.rowBytes, Int32(rows.count), Int32(width), input.x.floats(row: input.firstRow), width,
                                  Int32(tokens), target, stride)
            }
        case .gemm:
            let kernels = native[weight.type]!
            let panel = input.panels! + thread * Self.panelRows * width
            for start in Swift.stride(from: 0, to: rows.count, by: Self.panelRows) {
                let count = min(Self.panelRows, rows.count - start)
                kernels.toFloat(source + start * weight.rowBytes, weight.rowBytes, Int32(count), Int32(width), panel)
                kernels.gemm(panel, Int32(count), Int32(width), input.transposed!, input.columns, Int32(tokens),
                             target + start, stride)
            }
        }
    }

    /// Rows `rows` of `x`, quantized (and with `split`, split) into rows from 0 of the buffer for their width.
    private func quantizeInput(_ x: Tensor, rows: Range<Int>, split: Bool) -> Q16Buffer {
        let width = x.rowLength
        var buffer = quantizedInputs[width]
        if buffer == nil || buffer!.capacityRows < rows.count {
            buffer = Q16Buffer(rowLength: width, capacityRows: max(rows.count, buffer?.capacityRows ?? 0),
                               split: level == .avx512 && width % 64 == 0)
            quantizedInputs[width] = buffer
        }
        forEachRow(rows.count, width: 4 * width, QuantizeWork(x: x, firstRow: rows.lowerBound, split: split, target: buffer!))
        if split { buffer!.clearGroupedSums(after: rows.count) }
        return buffer!
    }

    private struct QuantizeWork: RowWork {
        let x: Tensor
        let firstRow: Int
        let split: Bool
        let target: Q16Buffer

        func run(row: Int) { target.quantize(row: row, from: x.floats(row: firstRow + row), split: split) }
    }

    private func multiplyPortable(_ weight: Tensor, rows: Range<Int>, input: PreparedInput,
                                  into target: UnsafeMutablePointer<Float>, stride: Int) {
        // The kernel type is opened once here; its dot products are then called once per row.
        switch ComputableTypes.kernels(for: weight.type) {
        case let .quantized(kernel)?: multiplyQuantized(kernel, weight, rows: rows, input: input, into: target, stride: stride)
        case let .float(kernel)?: multiplyFloat(kernel, weight, rows: rows, input: input, into: target, stride: stride)
        case nil: preconditionFailure("bind() admits only computable types, not \(weight.type)")
        }
    }

    @inline(__always)
    private func multiplyQuantized<Kernel: QuantizedRowKernel>(_: Kernel.Type, _ weight: Tensor, rows: Range<Int>,
                                                               input: PreparedInput, into target: UnsafeMutablePointer<Float>,
                                                               stride: Int) {
        let rowBytes = weight.rowBytes, width = weight.rowLength, activations = input.quantized!
        let base = UnsafeRawPointer(weight.data)
        var tileStart = rows.lowerBound
        while tileStart < rows.upperBound {
            let tileEnd = min(tileStart + Self.rowsPerTile, rows.upperBound)
            for token in 0 ..< input.tokens {
                let x = activations.row(token)
                let out = target + token * stride - rows.lowerBound
                for row in tileStart ..< tileEnd {
                    out[row] = Kernel.dot(base + row * rowBytes, x, count: width)
                }
            }
            tileStart = tileEnd
        }
    }

    @inline(__always)
    private func multiplyFloat<Kernel: FloatRowKernel>(_: Kernel.Type, _ weight: Tensor, rows: Range<Int>,
                                                       input: PreparedInput, into target: UnsafeMutablePointer<Float>,
                                                       stride: Int) {
        let rowBytes = weight.rowBytes, width = weight.rowLength
        let base = UnsafeRawPointer(weight.data)
        var tileStart = rows.lowerBound
        while tileStart < rows.upperBound {
            let tileEnd = min(tileStart + Self.rowsPerTile, rows.upperBound)
            for token in 0 ..< input.tokens {
                let x = UnsafePointer(input.x.floats(row: input.firstRow + token))
                let out = target + token * stride - rows.lowerBound
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
