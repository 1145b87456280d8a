// The vectorised passes over logit rows against plain loops, on rows whose lengths leave tails, and
// the vectorised exponential against Foundation's.

import EmberCompute
import Foundation
import Testing

@Suite struct LogitScanTests {
    /// Logit-like values in about [-40, 40].
    func row(_ count: Int, seed: UInt64) -> [Float] {
        randomActivations(count, seed: seed).map { max(min($0 * 3, 40), -40) }
    }

    /// The exponential behind softmax, SiLU and the sampler (`exp(SIMD8<Float>)`, reached here through
    /// `LogitScan.exponentials` with no shift or scale).
    @Test func exponentialIsWithinTwoUlpsOfFoundations() {
        let inputs = Array(stride(from: Float(-87), through: 88, by: 0.013)) + [-100, -.infinity, 0]
        var weights = [Float](repeating: -1, count: inputs.count)
        _ = LogitScan.exponentials(inputs, count: inputs.count, shift: 0, scale: 1, into: &weights)
        var worst: Float = 0
        for (x, got) in zip(inputs, weights).dropLast(3) {
            let want = Foundation.exp(Double(x))
            worst = max(worst, Float(abs(Double(got) - want) / want))
        }
        #expect(worst < 2.4e-7, "largest relative error \(worst)")
        #expect(Array(weights.suffix(3)) == [0, 0, 1])
    }

    @Test(arguments: [1, 7, 8, 33, 1000, 49_157])
    func scansMatchPlainLoops(count: Int) {
        var values = row(count, seed: UInt64(count))
        values[count / 2] = 50  // a clear maximum, and a tie for it later on
        if count > 3 { values[count - 1] = 50 }
        values.withUnsafeBufferPointer { v in
            let base = v.baseAddress!
            #expect(LogitScan.maximum(base, count: count) == values.max()!)
            #expect(LogitScan.argmax(base, count: count) == values.firstIndex(of: values.max()!)!)

            let threshold: Float = 4
            var indices = [Int32](repeating: -1, count: count), selected = [Float](repeating: 0, count: count)
            let found = LogitScan.gather(base, count: count, atLeast: threshold, indices: &indices, selected: &selected)
            let want = values.indices.filter { values[$0] >= threshold }
            #expect(Array(indices[..<found]) == want.map { Int32($0) })
            #expect(Array(selected[..<found]) == want.map { values[$0] })

            let shift: Float = 50, scale: Float = 1.25
            let exact = values.reduce(0.0) { $0 + Foundation.exp(Double(($1 - shift) * scale)) }
            var blocks = [Float](repeating: -1, count: (count + 1023) / 1024)
            let total = LogitScan.exponentialSum(base, count: count, shift: shift, scale: scale, blockSums: &blocks, blockLength: 1024)
            #expect(abs(Double(total) - exact) / exact < 1e-5)
            #expect(abs(Double(blocks.reduce(0, +) - total)) / exact < 1e-5)
            #expect(LogitScan.exponentialSum(base, count: count, shift: shift, scale: scale) == total || count > 1024)
            var weights = [Float](repeating: 0, count: count)
            let stored = LogitScan.exponentials(base, count: count, shift: shift, scale: scale, into: &weights)
            #expect(abs(Double(stored) - exact) / exact < 1e-5)
            for index in stride(from: 0, to: count, by: max(count / 17, 1)) {
                let want = Foundation.exp(Double((values[index] - shift) * scale))
                #expect(abs(Double(weights[index]) - want) <= want * 3e-7 + 1e-30)
            }
        }
    }
}
