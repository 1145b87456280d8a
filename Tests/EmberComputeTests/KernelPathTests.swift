// Every kernel path the CPU can run (portable Swift, AVX2 and AVX-512 C) against a scalar reference in
// Double, for every weight type, through the backend's matmul as the model calls it: odd row counts,
// rows whose block count is odd, float rows with vector tails, one to a few tokens (the dot kernels)
// and enough tokens for the GEMM, two weights fused in one job, odd thread counts, rows in and past
// whole groups of 16. Weights are the
// gguf package's blocks (random bytes and quantized data), activations random and never zero.
//
// Error budgets: the GEMM multiplies exact floats, so it is held to float rounding; the dot paths
// quantize activations to 16 bits, so they may also be off by half a quantization step per element
// (|w| * max|x of the block| / 32639 / 2). A wrong weight or a misplaced block is far outside both.

import EmberCompute
import EmberFormats
import Testing

private struct Case {
    let rows: Int
    let width: Int
}

/// Shapes per type: blocks per row odd, and for float types widths that leave vector tails.
private func cases(_ type: TensorType) -> [Case] {
    switch type.blockSize {
    case 256: [Case(rows: 5, width: 256), Case(rows: 3, width: 768)]
    // 37 rows: two whole groups of 16 and a part of one for the row-group dot (AVX-512).
    case 32: [Case(rows: 7, width: 224), Case(rows: 13, width: 96), Case(rows: 5, width: 448), Case(rows: 37, width: 192)]
    default: [Case(rows: 9, width: 37), Case(rows: 3, width: 100), Case(rows: 11, width: 64)]
    }
}

private let tokenCounts = [1, 2, 3, 5, 17, 33]

/// `rows` rows of `width` elements of `fixture`'s blocks, taken in order and wrapping around, with
/// their values as the gguf package dequantizes them.
private func weightRows(_ fixture: QuantFixture, rows: Int, width: Int, offset: Int) -> (bytes: [UInt8], values: [[Float]]) {
    let blocksPerRow = width / fixture.blockSize
    var bytes: [UInt8] = [], values: [[Float]] = []
    for row in 0 ..< rows {
        var rowValues: [Float] = []
        for index in 0 ..< blocksPerRow {
            let block = (offset + row * blocksPerRow + index) % fixture.blockCount
            bytes += fixture.blocks[block * fixture.blockBytes ..< (block + 1) * fixture.blockBytes]
            rowValues += fixture.values[block * fixture.blockSize ..< (block + 1) * fixture.blockSize]
        }
        values.append(rowValues)
    }
    return (bytes, values)
}

@Test(arguments: KernelLevel.runnable)
func everyPathMatchesTheReference(level: KernelLevel) throws {
    for type in quantizedTypes + floatTypes {
        let fixture = try QuantFixture(type)
        for shape in cases(type) {
            for threads in [1, 3] {
                try checkMatmul(type, fixture: fixture, shape: shape, level: level, threads: threads)
            }
        }
    }
}

private func checkMatmul(_ type: TensorType, fixture: QuantFixture, shape: Case, level: KernelLevel, threads: Int) throws {
    let backend = CPUBackend(threadCount: threads, kernels: level)
    // Two weights read the same input, as Q/K/V do: the second starts elsewhere in the fixture.
    let first = weightRows(fixture, rows: shape.rows, width: shape.width, offset: 0)
    let second = weightRows(fixture, rows: shape.rows + 2, width: shape.width, offset: 5)
    let weights = [(first, shape.rows), (second, shape.rows + 2)].map { data, rows in
        let tensor = backend.makeTensor(name: "w", type: type, rows: rows, columns: shape.width)
        data.bytes.withUnsafeBytes { tensor.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return tensor
    }
    // Each call multiplies rows firstRow ..< firstRow + tokens, as for one segment of a batch.
    let maxTokens = tokenCounts.max()! + 2
    let input = backend.makeTensor(name: "x", type: .f32, rows: maxTokens, columns: shape.width)
    let x = randomActivations(maxTokens * ((shape.width + 31) / 32 * 32), seed: UInt64(shape.width * 7 + shape.rows))
    for token in 0 ..< maxTokens {
        for i in 0 ..< shape.width { input.floats(row: token)[i] = x[token * shape.width + i] }
    }
    let outputs = weights.map { backend.makeTensor(name: "y", type: .f32, rows: maxTokens, columns: $0.rowCount) }

    for tokens in tokenCounts {
        let firstRow = tokens % 3
        for output in outputs { output.floats(row: 0).update(repeating: .nan, count: maxTokens * output.rowLength) }
        backend.matmul(input, rows: firstRow ..< firstRow + tokens, singleSteps: false, weights: weights, into: outputs)
        let usesGEMM = level != .portable && tokens >= 16
        let quantizedActivations = !type.usesFloatActivationsForTests && !usesGEMM
        for (values, output) in zip([first.values, second.values], outputs) {
            let untouched = Array(0 ..< firstRow) + Array(firstRow + tokens ..< maxTokens)
            #expect(untouched.allSatisfy { row in (0 ..< output.rowLength).allSatisfy { output.floats(row: row)[$0].isNaN } },
                    "rows outside \(firstRow) ..< \(firstRow + tokens) written")
            for token in firstRow ..< firstRow + tokens {
                let activations = UnsafeBufferPointer(start: input.floats(row: token), count: shape.width)
                for row in 0 ..< values.count {
                    var reference = 0.0, magnitude = 0.0, quantization = 0.0
                    for i in 0 ..< shape.width {
                        reference += Double(values[row][i]) * Double(activations[i])
                        magnitude += abs(Double(values[row][i]) * Double(activations[i]))
                    }
                    if quantizedActivations {
                        for block in 0 ..< shape.width / 32 {
                            let elements = block * 32 ..< block * 32 + 32
                            let step = Double(elements.map { abs(activations[$0]) }.max()!) / Double(Q16Buffer.maxQuant)
                            quantization += elements.reduce(0.0) { $0 + abs(Double(values[row][$1])) } * step * 0.51
                        }
                    }
                    let budget = 4 * Double(shape.width + 16) * 0x1p-24 * magnitude + quantization
                    let got = Double(output.floats(row: token)[row])
                    #expect(abs(got - reference) <= budget,
                            "\(level) \(type) \(shape.rows)x\(shape.width) threads \(threads) tokens \(tokens) row \(row) token \(token): \(got) vs \(reference) (budget \(budget))")
                    // The budget must leave a wrong weight visible.
                    #expect(budget < magnitude / Double(shape.width) / 4, "\(type): budget too loose")
                }
            }
        }
    }
}

extension TensorType {
    /// Float weights meet float activations on every path.
    var usesFloatActivationsForTests: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

@Test func theCPULevelIsReportedAndAtLeastAVX2OnX86() {
    #if arch(x86_64)
    #expect(KernelLevel.supported >= .avx2, "this build needs AVX2 (-target-cpu haswell)")
    #endif
    #expect(KernelLevel.runnable.first == .portable && KernelLevel.runnable.last == KernelLevel.supported)
}
