// Activations quantized to 8 bits in blocks of 32 values, the right-hand side of every integer dot
// product with a quantized weight row. The values match ggml's Q8_1 (`quantize_row_q8_1`): per block a
// scale d = max|x| / 127 and the scaled sum s = d * sum(q), both rounded through Float16 as ggml stores
// them, so Ember's integer dot products see the same inputs as llama.cpp's.
// Stored as three parallel arrays (quants, scales, sums) rather than ggml's array of structs, which
// keeps each kernel's loads aligned and simple.

import EmberFormats

/// A view of one quantized activation row: `count` int8 quants, and one scale and one scaled sum per
/// block of 32.
public struct Q8Row {
    public let quants: UnsafePointer<Int8>
    public let scales: UnsafePointer<Float>
    public let sums: UnsafePointer<Float>

    @inlinable
    public init(quants: UnsafePointer<Int8>, scales: UnsafePointer<Float>, sums: UnsafePointer<Float>) {
        self.quants = quants
        self.scales = scales
        self.sums = sums
    }

    /// The row starting `blocks` blocks of 32 further on.
    @inlinable @inline(__always)
    public func advanced(byBlocks blocks: Int) -> Q8Row {
        Q8Row(quants: quants + blocks * 32, scales: scales + blocks, sums: sums + blocks)
    }
}

/// Scratch storage for up to `capacityRows` quantized rows of `rowLength` values. Allocated once per
/// model and reused for every token (no allocation on the hot path).
public final class Q8Buffer: @unchecked Sendable {
    public let rowLength: Int
    public let capacityRows: Int
    public let quants: UnsafeMutablePointer<Int8>
    public let scales: UnsafeMutablePointer<Float>
    public let sums: UnsafeMutablePointer<Float>

    public init(rowLength: Int, capacityRows: Int) {
        precondition(rowLength % 32 == 0, "Q8 rows hold whole blocks of 32 values")
        self.rowLength = rowLength
        self.capacityRows = capacityRows
        quants = .allocate(capacity: rowLength * capacityRows)
        scales = .allocate(capacity: rowLength / 32 * capacityRows)
        sums = .allocate(capacity: rowLength / 32 * capacityRows)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    @inlinable
    public func row(_ index: Int) -> Q8Row {
        let blocks = rowLength / 32
        return Q8Row(quants: quants + index * rowLength, scales: scales + index * blocks, sums: sums + index * blocks)
    }

    /// Quantizes row `index` from `source` (`rowLength` floats).
    @inlinable
    public func quantize(row index: Int, from source: UnsafePointer<Float>) {
        let blocks = rowLength / 32
        quantizeQ8(source, count: rowLength,
                   quants: quants + index * rowLength, scales: scales + index * blocks, sums: sums + index * blocks)
    }
}

/// Quantizes `count` floats (a multiple of 32) in blocks of 32, as ggml's x86 `quantize_row_q8_1`.
/// Written as loops of eight lanes, which LLVM turns into single AVX2 instructions: the stdlib's
/// `pointwiseMax`, `max()`, `wrappedSum()` and SIMD int/float conversions stayed calls and made this
/// ~25x slower (../shared/notes/cpu-kernels.md). Non-finite inputs give meaningless quants, no trap.
@inlinable
public func quantizeQ8(_ x: UnsafePointer<Float>, count: Int,
                       quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
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
        let d = amax / 127
        let inverse: Float = amax != 0 ? 127 / amax : 0
        var total = SIMD8<Int32>()
        let destination = UnsafeMutableRawPointer(quants + block * 32)
        for part in 0 ..< 4 {
            let v = source.loadUnaligned(fromByteOffset: part * 32, as: SIMD8<Float>.self) * inverse
            // Adding 1.5 * 2^23 rounds to an integer (to nearest, ties to even, as _mm256_round_ps)
            // and leaves it in the low mantissa bits: an exact, check-free float-to-int for |v| <= 127.
            var q = SIMD8<Int32>()
            for lane in 0 ..< 8 {
                q[lane] = Int32(bitPattern: (v[lane] + 0x1.8p23).bitPattern) &- 0x4B40_0000
            }
            total &+= q
            var bytes = SIMD8<Int8>()
            for lane in 0 ..< 8 { bytes[lane] = Int8(truncatingIfNeeded: q[lane]) }
            destination.storeBytes(of: bytes, toByteOffset: part * 8, as: SIMD8<Int8>.self)
        }
        var sum: Int32 = 0
        for lane in 0 ..< 8 { sum &+= total[lane] }
        scales[block] = Float(Float16(d))
        sums[block] = Float(Float16(d * Float(sum)))
    }
}
