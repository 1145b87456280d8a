// ggml's Q4_K quantization (`quantize_row_q4_K_ref`): per 256 values, eight sub-blocks of 32, each
// with a 6-bit scale and min found by ggml's weighted least-squares search (`make_qkx2_quants`),
// under an F16 super-scale and super-min; 4-bit codes. The same blocks a GGUF's Q4_K holds, for
// `--quantize q4_k` at load.

enum Q4KQuantizer {
    static let blockBytes = 144

    /// ggml's `nearest_int`: round half to even.
    @inline(__always)
    static func nearest(_ value: Float) -> Int { Int(value.rounded(.toNearestOrEven)) }

    /// Quantizes `row` (a multiple of 256 values) into its blocks at `output`.
    static func quantize(_ row: [Float], into output: UnsafeMutableRawPointer) {
        var codes = [UInt8](repeating: 0, count: 256), scratch = [UInt8](repeating: 0, count: 32)
        var weights = [Float](repeating: 0, count: 32)
        for block in 0 ..< row.count / 256 {
            let x = Array(row[block * 256 ..< block * 256 + 256]), out = output + block * blockBytes
            var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
            for j in 0 ..< 8 {
                let part = x[32 * j ..< 32 * j + 32]
                let average = (part.reduce(0) { $0 + $1 * $1 } / 32).squareRoot()
                for (l, value) in part.enumerated() { weights[l] = average + abs(value) }
                (scales[j], mins[j]) = fit(Array(part), weights: weights, codes: &codes, at: 32 * j, scratch: &scratch)
            }
            let maxScale = scales.max()!, maxMin = mins.max()!
            let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0, inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
            var packed = [UInt8](repeating: 0, count: 12)
            for j in 0 ..< 8 {
                let ls = UInt8(min(63, nearest(inverseScale * scales[j]))), lm = UInt8(min(63, nearest(inverseMin * mins[j])))
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            let d = Float16(maxScale / 63), dmin = Float16(maxMin / 63)
            out.storeBytes(of: d, as: Float16.self)
            out.storeBytes(of: dmin, toByteOffset: 2, as: Float16.self)
            for (i, byte) in packed.enumerated() { out.storeBytes(of: byte, toByteOffset: 4 + i, as: UInt8.self) }
            // The codes again under the scales as stored (rounded to 6 bits and F16).
            for j in 0 ..< 8 {
                let (sc, m) = scaleAndMin(j, packed)
                let scale = Float(d) * Float(sc)
                guard scale != 0 else { continue }
                let offset = Float(dmin) * Float(m)
                for i in 0 ..< 32 { codes[32 * j + i] = UInt8(max(0, min(15, nearest((x[32 * j + i] + offset) / scale)))) }
            }
            for half in 0 ..< 4 {
                for l in 0 ..< 32 {
                    out.storeBytes(of: codes[64 * half + l] | codes[64 * half + l + 32] << 4, toByteOffset: 16 + 32 * half + l, as: UInt8.self)
                }
            }
        }
    }

    /// ggml's `get_scale_min_k4`: sub-block `j`'s 6-bit scale and min from the 12 packed bytes.
    static func scaleAndMin(_ j: Int, _ packed: [UInt8]) -> (UInt8, UInt8) {
        if j < 4 { return (packed[j] & 63, packed[j + 4] & 63) }
        return ((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
    }

    /// ggml's `make_qkx2_quants(32, 15, x, weights, L, &min, Laux, -1, 0.1, 20, false)`: the scale and
    /// (negated) min of x ≈ scale * code - min that minimize the weighted squared error, over 21 grids.
    static func fit(_ x: [Float], weights: [Float], codes: inout [UInt8], at start: Int, scratch: inout [UInt8]) -> (scale: Float, min: Float) {
        let n = x.count, levels: Float = 15
        var low = x.min()!, high = x.max()!
        let sumW = weights.reduce(0, +)
        let sumX = zip(weights, x).reduce(0) { $0 + $1.0 * $1.1 }
        if low > 0 { low = 0 }
        if high == low {
            for i in 0 ..< n { codes[start + i] = 0 }
            return (0, -low)
        }
        var inverse = levels / (high - low), scale = 1 / inverse, bestError: Float = 0
        for i in 0 ..< n {
            let l = UInt8(max(0, min(15, nearest(inverse * (x[i] - low)))))
            codes[start + i] = l
            let difference = scale * Float(l) + low - x[i]
            bestError += weights[i] * difference * difference
        }
        for step in 0 ... 20 {
            inverse = (-1 + 0.1 * Float(step) + levels) / (high - low)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0 ..< n {
                let l = max(0, min(15, nearest(inverse * (x[i] - low))))
                scratch[i] = UInt8(l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant, thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0 ..< n {
                let difference = thisScale * Float(scratch[i]) + thisMin - x[i]
                error += weights[i] * difference * difference
            }
            if error < bestError {
                for i in 0 ..< n { codes[start + i] = scratch[i] }
                bestError = error
                scale = thisScale
                low = thisMin
            }
        }
        return (scale, -low)
    }
}
