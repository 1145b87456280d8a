// quantizeQ16: the per-block scale, round-half-even quants, the all-zero block, the error bound every
// activation meets, and the stored block sums.

import EmberCompute
import Testing

private func quantize(_ x: [Float]) -> (quants: [Int16], scales: [Float], sums: [Float]) {
    var quants = [Int16](repeating: 0x7F7F, count: x.count)
    var scales = [Float](repeating: .nan, count: x.count / 32)
    var sums = [Float](repeating: .nan, count: x.count / 32)
    quantizeQ16(x, count: x.count, quants: &quants, scales: &scales, sums: &sums)
    return (quants, scales, sums)
}

@Test func quantizeQ16ScalesEachBlockByItsLargestMagnitude() {
    // The second block's largest magnitude is negative; the third is all zero.
    var x = (0 ..< 32).map { Float($0) - 10 }
    x += (0 ..< 32).map { Float($0) * 0.001 - 0.5 }
    x += [Float](repeating: 0, count: 32)
    let (quants, scales, sums) = quantize(x)
    #expect(scales == [21 / 32639, 0.5 / 32639, 0])
    #expect(quants[31] == 32639 && quants[32] == -32639)
    #expect(quants[64 ..< 96].allSatisfy { $0 == 0 } && sums[2] == 0)
}

@Test func quantizeQ16RoundsTiesToEven() {
    // With max|x| = 32639 the inverse scale is exactly 1, so x itself is rounded.
    var x: [Float] = [32639, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.25, 3.75]
    x += [Float](repeating: 0, count: 32 - x.count)
    let (quants, scales, sums) = quantize(x)
    #expect(scales == [1])
    #expect(Array(quants[0 ..< 9]) == [32639, 0, 2, 2, 0, -2, -2, 3, 4])
    #expect(sums == [Float(32639 + 0 + 2 + 2 + 0 - 2 - 2 + 3 + 4)])
}

@Test func quantizeQ16ErrorIsAtMostHalfAStep() {
    let x = randomActivations(32 * 40, seed: 16)
    let (quants, scales, sums) = quantize(x)
    for block in 0 ..< 40 {
        let d = scales[block]
        var total = 0
        for i in block * 32 ..< block * 32 + 32 {
            // Half a step, plus the float rounding of x * (32639 / amax): 2^-23 relative to quants
            // as large as 2^15, a 2^-8 of a step.
            #expect(abs(x[i] - d * Float(quants[i])) <= d * (0.5 + 0x1p-8), "element \(i)")
            total += Int(quants[i])
        }
        #expect(sums[block] == d * Float(total))
    }
}

@Test func quantizeQ16BufferRowsAreIndependent() {
    let x = randomActivations(96, seed: 5)
    let buffer = Q16Buffer(rowLength: 96, capacityRows: 2)
    buffer.quantize(row: 1, from: x)
    let (quants, scales, sums) = quantize(x)
    withExtendedLifetime(buffer) {
        let row = buffer.row(1)
        #expect((0 ..< 96).map { row.quants[$0] } == quants)
        #expect((0 ..< 3).map { row.scales[$0] } == scales)
        #expect((0 ..< 3).map { row.sums[$0] } == sums)
    }
}

@Test func splitBufferHoldsEachQuantAsTwoSignedBytesWithLaneScalesAndGroupedSums() {
    // Blocks whose largest magnitude is positive, negative, and zero; quants at both limits.
    var x = randomActivations(64 * 3 - 32, seed: 9)
    x[5] = 40
    x[40] = -40
    x += [Float](repeating: 0, count: 32)
    let buffer = Q16Buffer(rowLength: x.count, capacityRows: 2, split: true)
    buffer.quantize(row: 1, from: x, split: true)
    withExtendedLifetime(buffer) {
        let row = buffer.row(1)
        let offset = x.count
        #expect(row.quants[5] == 32639 && row.quants[40] == -32639)
        for i in 0 ..< x.count {
            let high = Int(buffer.high![offset + i]), low = Int(buffer.low![offset + i])
            #expect(high * 256 + low == Int(row.quants[i]), "element \(i)")
        }
        for lane in 0 ..< x.count / 4 { #expect(buffer.pairScales![offset / 4 + lane] == row.scales[lane / 8]) }
        // Row 1 is the second of the first group of four rows.
        for block in 0 ..< x.count / 32 { #expect(buffer.groupedSums![4 * block + 1] == row.sums[block]) }
    }
}

/// The split dot adds the offsets of a whole group of four tokens in one vector: the lanes of tokens
/// absent from a call must hold zeros, not what earlier calls (or the allocator) left there, which
/// read as denormals slowed `ember bench` on a Q4_K_M file several times over (BENCHMARKS.md).
@Test func splitBufferGroupedSumsOfAbsentRowsAreZero() {
    let x = randomActivations(64 * 4, seed: 12)
    let buffer = Q16Buffer(rowLength: 64, capacityRows: 8, split: true)
    withExtendedLifetime(buffer) {
        #expect((0 ..< 64 / 8 * 8).allSatisfy { buffer.groupedSums![$0] == 0 }, "a new buffer holds zeros")
        for row in 0 ..< 4 { buffer.quantize(row: row, from: Array(x[64 * row ..< 64 * (row + 1)]), split: true) }
        #expect(buffer.groupedSums![4 * 1 + 3] != 0)
        buffer.quantize(row: 0, from: Array(x[64 ..< 128]), split: true)
        buffer.clearGroupedSums(after: 1)
        for block in 0 ..< 2 {
            #expect(buffer.groupedSums![4 * block] == buffer.row(0).sums[block])
            for lane in 1 ..< 4 { #expect(buffer.groupedSums![4 * block + lane] == 0, "block \(block) lane \(lane)") }
        }
    }
}
