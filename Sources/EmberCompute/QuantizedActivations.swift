// Activations quantized to 16 bits in blocks of 32 values: the right-hand side of every integer dot
// product with a quantized weight row. Per block, a scale d = max|x| / 32639, the quants
// q_i = round(x_i / d), and the block's sum s = d * sum(q_i) for the weight types with an offset.
// 32639 = 127 * 257 rather than 32767, so that every quant also splits into two signed bytes,
// q = 256 * hi + lo, for the AVX-512 split dot (avx512.c), which a buffer made with `split` stores too.
//
// Why 16 bits and not ggml's 8: on SmolLM2 the rounding of 8-bit activations alone moves the logits
// to a cosine of 0.997 from the exact result at sensitive positions, and because every later layer
// re-quantizes, any tiny float difference between two engines flips roundings and grows into that
// same gap (BENCHMARKS.md, "Activation precision"). 16-bit quants are 256 times finer: the logits
// stay within a cosine of 0.999999 of the exact result, for at most ~10% of decode speed (the integer
// core is vpmaddwd either way in Swift).
// Stored as parallel arrays (quants, scales, sums; for a split buffer also the split planes below),
// which keeps each kernel's loads simple.

/// A view of one quantized activation row: `count` int16 quants, and one scale and one scaled sum per
/// block of 32.
public struct Q16Row {
    public let quants: UnsafePointer<Int16>
    public let scales: UnsafePointer<Float>
    public let sums: UnsafePointer<Float>

    @inlinable
    public init(quants: UnsafePointer<Int16>, scales: UnsafePointer<Float>, sums: UnsafePointer<Float>) {
        self.quants = quants
        self.scales = scales
        self.sums = sums
    }
}

/// Scratch storage for up to `capacityRows` quantized rows of `rowLength` values. Allocated once per
/// model and reused for every token (no allocation on the hot path).
public final class Q16Buffer: @unchecked Sendable {
    /// The largest quant magnitude: 127 * 257, so that the high byte of any quant fits an int8.
    public static let maxQuant: Int32 = 32639

    public let rowLength: Int
    public let capacityRows: Int
    public let quants: UnsafeMutablePointer<Int16>
    public let scales: UnsafeMutablePointer<Float>
    public let sums: UnsafeMutablePointer<Float>
    /// The split planes (nil unless made with `split`): per row `rowLength` bytes hi and lo with
    /// q = 256 * hi + lo, and per 4 values (an int32 lane of the split dot) their block's scale,
    /// `rowLength / 4` floats; and the block sums of each group of four rows side by side (block b of
    /// row r at (r / 4) * rowLength / 8 + 4 b + r % 4), so the split dot adds the offsets of four
    /// tokens in one vector.
    public let high: UnsafeMutablePointer<Int8>?
    public let low: UnsafeMutablePointer<Int8>?
    public let pairScales: UnsafeMutablePointer<Float>?
    public let groupedSums: UnsafeMutablePointer<Float>?

    /// Rows of `rowLength` values (whole blocks; for `split`, whole block pairs).
    public init(rowLength: Int, capacityRows: Int, split: Bool = false) {
        precondition(rowLength % (split ? 64 : 32) == 0, "quantized rows hold whole blocks of 32 values (pairs when split)")
        self.rowLength = rowLength
        self.capacityRows = capacityRows
        quants = .allocate(capacity: rowLength * capacityRows)
        scales = .allocate(capacity: rowLength / 32 * capacityRows)
        sums = .allocate(capacity: rowLength / 32 * capacityRows)
        high = split ? .allocate(capacity: rowLength * capacityRows) : nil
        low = split ? .allocate(capacity: rowLength * capacityRows) : nil
        pairScales = split ? .allocate(capacity: rowLength / 4 * capacityRows) : nil
        let groupedCount = rowLength / 8 * ((capacityRows + 3) / 4 * 4)
        groupedSums = split ? .allocate(capacity: groupedCount) : nil
        groupedSums?.initialize(repeating: 0, count: groupedCount)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
        high?.deallocate()
        low?.deallocate()
        pairScales?.deallocate()
        groupedSums?.deallocate()
    }

    @inlinable
    public func row(_ index: Int) -> Q16Row {
        let blocks = rowLength / 32
        return Q16Row(quants: quants + index * rowLength, scales: scales + index * blocks, sums: sums + index * blocks)
    }

    /// Quantizes row `index` from `source` (`rowLength` floats), and with `split` fills its split planes
    /// (the buffer must have them).
    @inlinable
    public func quantize(row index: Int, from source: UnsafePointer<Float>, split: Bool = false) {
        let blocks = rowLength / 32
        quantizeQ16(source, count: rowLength,
                    quants: quants + index * rowLength, scales: scales + index * blocks, sums: sums + index * blocks)
        if split {
            splitQ16(quants + index * rowLength, scales: scales + index * blocks, count: rowLength,
                     high: high! + index * rowLength, low: low! + index * rowLength, pairScales: pairScales! + index * rowLength / 4)
            let group = groupedSums! + index / 4 * rowLength / 8 + index % 4
            for block in 0 ..< blocks { group[4 * block] = sums[index * blocks + block] }
        }
    }
}

extension Q16Buffer {
    /// Zeroes the grouped sums of rows `rows ..< ` the end of their group of four. The split dot adds
    /// the offsets of a whole group in one vector, absent tokens' lanes included: left stale, they can
    /// hold anything, and bit patterns of old quants read as floats are denormals, which CPUs that
    /// assist denormals in microcode run far slower (BENCHMARKS.md, "Why `ember bench` and `ember run`
    /// disagreed on Q4_K_M").
    public func clearGroupedSums(after rows: Int) {
        guard let groupedSums, rows % 4 != 0 else { return }
        let group = groupedSums + rows / 4 * rowLength / 8
        for block in 0 ..< rowLength / 32 {
            for lane in rows % 4 ..< 4 { group[4 * block + lane] = 0 }
        }
    }
}

/// Splits `count` quants (a multiple of 64) into signed bytes, q = 256 * hi + lo with lo in
/// [-128, 127], and gives every 4 values their block's scale.
@inlinable
public func splitQ16(_ quants: UnsafePointer<Int16>, scales: UnsafePointer<Float>, count: Int,
                     high: UnsafeMutablePointer<Int8>, low: UnsafeMutablePointer<Int8>, pairScales: UnsafeMutablePointer<Float>) {
    for start in stride(from: 0, to: count, by: 16) {
        let q = UnsafeRawPointer(quants + start).loadUnaligned(as: SIMD16<Int16>.self)
        var h = SIMD16<Int8>(), l = SIMD16<Int8>()
        for lane in 0 ..< 16 {
            let top = (q[lane] &+ 128) >> 8
            h[lane] = Int8(truncatingIfNeeded: top)
            l[lane] = Int8(truncatingIfNeeded: q[lane] &- top << 8)
        }
        UnsafeMutableRawPointer(high + start).storeBytes(of: h, as: SIMD16<Int8>.self)
        UnsafeMutableRawPointer(low + start).storeBytes(of: l, as: SIMD16<Int8>.self)
        (pairScales + start / 4).update(repeating: scales[start / 32], count: 4)
    }
}

/// Quantizes `count` floats (a multiple of 32) in blocks of 32. Written as loops of eight lanes, which
/// LLVM turns into single AVX2 instructions: the stdlib's `pointwiseMax`, `max()`, `wrappedSum()` and
/// SIMD int/float conversions stayed calls (../shared/notes/cpu-kernels.md). Non-finite inputs give
/// meaningless quants, no trap.
@inlinable
public func quantizeQ16(_ x: UnsafePointer<Float>, count: Int,
                        quants: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>,
                        sums: UnsafeMutablePointer<Float>) {
    for block in 0 ..< count / 32 {
        let source = UnsafeRawPointer(x + block * 32)
        var maxAbs = SIMD8<Float>()
        for part in 0 ..< 4 {
            let v = source.loadUnaligned(fromByteOffset: part * 32, as: SIMD8<Float>.self)
            for lane in 0 ..< 8 { maxAbs[lane] = Swift.max(maxAbs[lane], Swift.abs(v[lane])) }
        }
        var amax: Float = 0
        for lane in 0 ..< 8 { amax = Swift.max(amax, maxAbs[lane]) }
        let limit = Float(Q16Buffer.maxQuant)
        let d = amax / limit
        let inverse: Float = amax != 0 ? limit / amax : 0
        var total = SIMD8<Int32>()
        let destination = UnsafeMutableRawPointer(quants + block * 32)
        for part in 0 ..< 4 {
            let v = source.loadUnaligned(fromByteOffset: part * 32, as: SIMD8<Float>.self) * inverse
            // Adding 1.5 * 2^23 rounds to an integer (to nearest, ties to even) and leaves it in the
            // low mantissa bits: an exact, check-free float-to-int for |v| <= 2^22.
            var q = SIMD8<Int32>()
            for lane in 0 ..< 8 {
                q[lane] = Int32(bitPattern: (v[lane] + 0x1.8p23).bitPattern) &- 0x4B40_0000
            }
            total &+= q
            var halves = SIMD8<Int16>()
            for lane in 0 ..< 8 { halves[lane] = Int16(truncatingIfNeeded: q[lane]) }
            destination.storeBytes(of: halves, toByteOffset: part * 16, as: SIMD8<Int16>.self)
        }
        var sum: Int32 = 0
        for lane in 0 ..< 8 { sum &+= total[lane] }
        scales[block] = d
        sums[block] = d * Float(sum)
    }
}
