// Each kernel's SIMD dot against its scalar dot against the dot of the gguf-dequantized weights with
// the dequantized activations (computed in Double), over rows of several blocks starting at odd
// offsets. The budgets are bounds on float rounding, far below the change one wrong weight makes:
//  - SIMD vs scalar: both compute the same exact integer sum per block and differ only in the order
//    of float additions: at most (additions + a few) * 2^-24 * sum|terms|.
//  - vs the reference: the same bound; the reference applies a block's offset m (Q4_1, Q5_1,
//    Q4_K, Q5_K) through the stored activation sum s_a, as the kernels do.

import EmberCompute
import EmberFormats
import Testing

/// (first block, block count) of the rows tested; counts are of 32-value or 256-value blocks.
private func rowSpans(_ type: TensorType) -> [(start: Int, blocks: Int)] {
    type.blockSize == 256 ? [(0, 1), (1, 3), (4, 4), (0, 8)] : [(0, 1), (3, 7), (16, 13), (0, 32)]
}

/// The additive offset of each 32-value block of weights starting at `block`, as the gguf package
/// computes it in float: +m for Q4_1 and Q5_1, -dmin * m_j for Q4_K and Q5_K, 0 for the others.
private func blockOffsets(_ type: TensorType, _ block: UnsafeRawPointer, blocks: Int) -> [Double] {
    func half(_ offset: Int) -> Float { Float(block.loadUnaligned(fromByteOffset: offset, as: Float16.self)) }
    func byte(_ offset: Int) -> UInt8 { block.load(fromByteOffset: offset, as: UInt8.self) }
    switch type {
    case .q4_1, .q5_1:
        return (0 ..< blocks).map { Double(half($0 * type.bytesPerBlock + 2)) }
    case .q4_K, .q5_K:
        return (0 ..< blocks * 8).map { index in
            let base = index / 8 * type.bytesPerBlock, scales = base + 4, j = index % 8
            // ggml's get_scale_min_k4, the min half of it.
            let min = j < 4 ? byte(scales + j + 4) & 63 : (byte(scales + j + 4) >> 4) | (byte(scales + j) >> 6) << 4
            return -Double(half(base + 2) * Float(min))
        }
    default:
        return [Double](repeating: 0, count: blocks * type.blockSize / 32)
    }
}

@Test(arguments: quantizedTypes)
func quantizedDotMatchesScalarAndReference(_ type: TensorType) throws {
    let fixture = try QuantFixture(type)
    let kernel = quantizedKernel(type)
    for (start, blocks) in rowSpans(type) {
        let count = blocks * fixture.blockSize
        let x = randomActivations(count, seed: UInt64(start * 1000 + blocks))
        let activations = Q16Buffer(rowLength: count, capacityRows: 1)
        activations.quantize(row: 0, from: x)
        // `a` points into the buffer, which must outlive every use of it.
        withExtendedLifetime(activations) {
            let a = activations.row(0)
            let weights = Array(fixture.values[start * fixture.blockSize ..< start * fixture.blockSize + count])

            let (simd, scalar, offsets) = fixture.blocks.withUnsafeBytes { bytes in
                let row = bytes.baseAddress! + start * fixture.blockBytes
                return (kernel.dot(row, a, count: count), kernel.dotScalar(row, a, count: count),
                        blockOffsets(type, row, blocks: blocks))
            }

            // The kernels' own formula: the offset of a block meets the activations through their stored
            // sum s_a, the rest through the quants.
            var reference = 0.0, magnitude = 0.0
            for b in 0 ..< count / 32 {
                for i in b * 32 ..< b * 32 + 32 {
                    let activation = Double(a.scales[b]) * Double(a.quants[i])
                    reference += (Double(weights[i]) - offsets[b]) * activation
                    magnitude += (abs(Double(weights[i])) + abs(offsets[b])) * abs(activation)
                }
                reference += offsets[b] * Double(a.sums[b])
                magnitude += abs(offsets[b] * Double(a.sums[b]))
            }
            let rounding = 2 * Double(count / 32 + 16) * 0x1p-24 * magnitude
            let label = "\(type) blocks \(start)..<\(start + blocks)"
            #expect(abs(Double(simd) - Double(scalar)) <= rounding, "\(label): simd \(simd) scalar \(scalar)")
            #expect(abs(Double(scalar) - reference) <= rounding, "\(label): scalar \(scalar) reference \(reference)")
            #expect(abs(Double(simd) - reference) <= rounding, "\(label): simd \(simd) reference \(reference)")
            // The budget must leave a wrong weight visible: a 16th of an average term.
            #expect(rounding < magnitude / Double(count) / 16, "\(label): budget too loose")
        }
    }
}

@Test(arguments: floatTypes)
func floatDotMatchesScalarAndReference(_ type: TensorType) throws {
    let fixture = try QuantFixture(type)
    let kernel = floatKernel(type)
    // Lengths that leave every tail of the vector loops non-empty.
    for (start, count) in [(0, 1), (3, 7), (100, 37), (1, 259), (500, 100), (0, 1024)] {
        let x = randomActivations(count, seed: UInt64(start * 1000 + count))
        let (simd, scalar) = fixture.blocks.withUnsafeBytes { bytes in
            let row = bytes.baseAddress! + start * fixture.blockBytes
            return (kernel.dot(row, x, count: count), kernel.dotScalar(row, x, count: count))
        }
        var reference = 0.0, magnitude = 0.0
        for i in 0 ..< count {
            reference += Double(fixture.values[start + i]) * Double(x[i])
            magnitude += abs(Double(fixture.values[start + i]) * Double(x[i]))
        }
        // Recursive summation of n products is within (n + 1) * 2^-24 * sum|terms|.
        let rounding = Double(count + 1) * 0x1p-24 * magnitude
        let label = "\(type) elements \(start)..<\(start + count)"
        #expect(abs(Double(simd) - reference) <= rounding, "\(label): simd \(simd) reference \(reference)")
        #expect(abs(Double(scalar) - reference) <= rounding, "\(label): scalar \(scalar) reference \(reference)")
    }
}

/// A quantized activation row holding `quant` everywhere, with the given scale for every block.
private func constantActivations(_ quant: Int16, count: Int, scale: Float) -> Q16Buffer {
    let buffer = Q16Buffer(rowLength: count, capacityRows: 1)
    buffer.quants.update(repeating: quant, count: count)
    buffer.scales.update(repeating: scale, count: count / 32)
    buffer.sums.update(repeating: scale * Float(Int(quant) * 32), count: count / 32)
    return buffer
}

@Test func extremeProductsDoNotOverflow() {
    // Q8_0: every weight -128 against activations of -32767, the largest products a block can hold.
    var block = [UInt8](repeating: 0x80, count: 34)
    withUnsafeBytes(of: Float16(0.5).bitPattern.littleEndian) { block.replaceSubrange(0 ..< 2, with: $0) }
    let activations = constantActivations(-32767, count: 32, scale: 0.25)
    let expected = Float(0.5 * 0.25 * 32 * 128 * 32767)
    withExtendedLifetime(activations) {
        block.withUnsafeBytes { bytes in
            #expect(Q8_0Kernel.dot(bytes.baseAddress!, activations.row(0), count: 32) == expected)
            #expect(Q8_0Kernel.dotScalar(bytes.baseAddress!, activations.row(0), count: 32) == expected)
        }
    }

    // Q6_K: q = 0 (weight -32) and scale -128 everywhere against activations of 32767: a super-block
    // sums to 2^35, far past int32.
    var superBlock = [UInt8](repeating: 0, count: 210)
    for i in 192 ..< 208 { superBlock[i] = 0x80 }
    withUnsafeBytes(of: Float16(1).bitPattern.littleEndian) { superBlock.replaceSubrange(208 ..< 210, with: $0) }
    let activations6 = constantActivations(32767, count: 256, scale: 1)
    let expected6 = Float(256 * -32 * -128 * 32767)
    withExtendedLifetime(activations6) {
        superBlock.withUnsafeBytes { bytes in
            #expect(Q6_KKernel.dot(bytes.baseAddress!, activations6.row(0), count: 256) == expected6)
            #expect(Q6_KKernel.dotScalar(bytes.baseAddress!, activations6.row(0), count: 256) == expected6)
        }
    }
}
