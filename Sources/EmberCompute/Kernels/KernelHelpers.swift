// Building blocks shared by the per-type weight kernels: half-precision loads, widening of weight
// bytes to int16 lanes, the integer dot product of a block, int-to-float conversion, horizontal sums,
// the fifth-bit table of the 5-bit types and the unpacking of the 6-bit K-quant scales.
// The SIMD helpers are loops of at most 16 lanes marked @inline(__always): LLVM turns each into one
// AVX2 instruction, whereas the stdlib SIMD conversions, `sum()`, `lowHalf` and SIMD array literals
// stay as calls or allocations in hot loops (../shared/notes/cpu-kernels.md).
//
// Kernels work in two passes over a row: first the exact int32 dot product of every (sub-)block of
// weight quants with the int16 activation quants, into a small buffer on the stack; then a float pass
// that scales those sums by the weight and activation scales, eight blocks per vector. Fused in one
// loop, LLVM vectorised across neighbouring blocks and lost vpmaddwd (3-4x slower, measured).
//
// Integer sums are exact: weights are at most 8 bits and activation quants lie in [-32639, 32639], so
// a product is below 2^22 and 32 of them below 2^27.

/// Four halves at `offset` widened to floats with one vcvtph2ps, for a block's adjacent f16 fields
/// (d and dmin); callers make sure all 8 bytes lie inside the block. Where only one lane is used,
/// LLVM narrows this to a vpinsrw load with a false dependency (see `loadHalves8`), so hot loops
/// use it once per super-block at most.
@inline(__always)
func loadHalves(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD4<Float> {
    let h = p.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float16>.self)
    var r = SIMD4<Float>()
    for i in 0 ..< 4 { r[i] = Float(h[i]) }
    return r
}

/// Sign-extends 16 int8 at `offset`.
@inline(__always)
func loadInt8x16(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int16> {
    let v = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self)
    var r = SIMD16<Int16>()
    for i in 0 ..< 16 { r[i] = Int16(v[i]) }
    return r
}

/// Zero-extends 16 bytes at `offset`.
@inline(__always)
func loadUInt8x16(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int16> {
    let v = p.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self)
    var r = SIMD16<Int16>()
    for i in 0 ..< 16 { r[i] = Int16(v[i]) }
    return r
}

/// Eight floats at `p`.
@inline(__always)
func loadFloat8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0 ..< 8 { r[i] = Float(v[i]) }
    return r
}

/// sum(w[i] * a[offset + i]) over 16 lanes in int32. Written as a reduction, which LLVM turns into
/// vpmaddwd and a horizontal add; the same products kept in 8 lanes were not (vpmulld, 3x slower).
@inline(__always)
func dot16(_ w: SIMD16<Int16>, _ a: UnsafePointer<Int16>, _ offset: Int) -> Int32 {
    let x = UnsafeRawPointer(a + offset).loadUnaligned(as: SIMD16<Int16>.self)
    var sum: Int32 = 0
    for i in 0 ..< 16 { sum &+= Int32(w[i]) &* Int32(x[i]) }
    return sum
}

/// The integer dot product of one block of 32 weight quants (elements 0..<16 in `low`, 16..<32 in
/// `high`) with the activation quants at `a`.
@inline(__always)
func dot32(_ low: SIMD16<Int16>, _ high: SIMD16<Int16>, _ a: UnsafePointer<Int16>) -> Int32 {
    dot16(low, a, 0) &+ dot16(high, a, 16)
}

/// Blocks of 32 values whose integer sums one pass keeps on the stack; rows are walked in chunks of
/// this many blocks (2048 values), so no row length ever allocates.
let blocksPerChunk = 64

@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let a = SIMD4<Float>(v[0], v[1], v[2], v[3]) + SIMD4<Float>(v[4], v[5], v[6], v[7])
    return (a[0] + a[2]) + (a[1] + a[3])
}

@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    var r = SIMD8<Float>()
    for i in 0 ..< 8 { r[i] = v[i] + v[i + 8] }
    return horizontalSum(r)
}

/// Entry b has 16 in lane k where bit k of b is set, else 0: the fifth bits of eight Q5_0/Q5_1
/// weights, looked up one qh byte at a time. A table because computing them (broadcast, per-lane
/// mask or shift, compare) led LLVM to simplify each lane on its own and scalarise the lot.
let fifthBitTable: [SIMD8<Int16>] = (0 ..< 256).map { byte in
    var lanes = SIMD8<Int16>()
    for k in 0 ..< 8 { lanes[k] = Int16((byte >> k) & 1) << 4 }
    return lanes
}

/// The fifth bits (0 or 16) of the 16 weights whose bits are the two qh bytes at `offset`.
@inline(__always)
func fifthBits(_ table: UnsafePointer<SIMD8<Int16>>, _ block: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int16> {
    let low = table[Int(block.load(fromByteOffset: offset, as: UInt8.self))]
    let high = table[Int(block.load(fromByteOffset: offset + 1, as: UInt8.self))]
    var r = SIMD16<Int16>()
    for k in 0 ..< 8 {
        r[k] = low[k]
        r[k + 8] = high[k]
    }
    return r
}

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K super-block (12 bytes at `p`), as
/// ggml's get_scale_min_k4 unpacks them, done four bytes at a time as in ggml's AVX2 path.
@inline(__always)
func unpackScalesAndMins(_ p: UnsafeRawPointer) -> (scales: SIMD8<Float>, mins: SIMD8<Float>) {
    let u0 = p.loadUnaligned(as: UInt32.self)
    let u1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let u2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
    let scales = SIMD2<UInt32>(u0 & low6, (u2 & low4) | ((u0 >> 6) & low2) << 4)
    let mins = SIMD2<UInt32>(u1 & low6, ((u2 >> 4) & low4) | ((u1 >> 6) & low2) << 4)
    return (floats(unsafeBitCast(scales, to: SIMD8<UInt8>.self)), floats(unsafeBitCast(mins, to: SIMD8<UInt8>.self)))
}

@inline(__always)
func floats(_ v: SIMD8<UInt8>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0 ..< 8 { r[i] = Float(v[i]) }
    return r
}

/// Scale and min of sub-block `j` (0..<8) from the 12 packed bytes at `p`: ggml's
/// get_scale_min_k4, the scalar reference for `unpackScalesAndMins`.
@inline(__always)
func scaleAndMin(_ j: Int, _ p: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
    func byte(_ i: Int) -> UInt8 { p.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 {
        return (byte(j) & 63, byte(j + 4) & 63)
    }
    return ((byte(j + 4) & 0xF) | (byte(j - 4) >> 6) << 4, (byte(j + 4) >> 4) | (byte(j) >> 6) << 4)
}

/// The f16 at `offset` of each of eight blocks `stride` bytes apart, widened to floats with one
/// vcvtph2ps. Converting one half at a time made LLVM load it with vpinsrw into whatever register
/// was free, often an accumulator: a false dependency that serialised the block loop.
@inline(__always)
func loadHalves8(_ p: UnsafeRawPointer, stride: Int, _ offset: Int) -> SIMD8<Float> {
    var bits = SIMD8<UInt16>()
    for j in 0 ..< 8 { bits[j] = p.loadUnaligned(fromByteOffset: j * stride + offset, as: UInt16.self) }
    let h = unsafeBitCast(bits, to: SIMD8<Float16>.self)
    var r = SIMD8<Float>()
    for j in 0 ..< 8 { r[j] = Float(h[j]) }
    return r
}

/// The driver of the 32-value block types, whose blocks start with f16 d (and f16 m for Q4_1, Q5_1
/// when `hasMin`): sum over blocks b of d_b * d_a_b * blockSum(b) (+ m_b * s_a_b), where
/// `blockSum(b)` is block b's integer dot product. Two passes per chunk of blocks (see the header).
@inline(__always)
func accumulateBlocks(_ row: UnsafeRawPointer, blockBytes: Int, _ x: Q16Row, count: Int, hasMin: Bool,
                      _ blockSum: (Int) -> Int32) -> Float {
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: blocksPerChunk) { buffer in
        let sums = buffer.baseAddress!
        var acc = SIMD8<Float>(), minAcc = SIMD8<Float>(), tail: Float = 0
        var first = 0
        let blocks = count / 32
        while first < blocks {
            let n = min(blocksPerChunk, blocks - first)
            for j in 0 ..< n { sums[j] = blockSum(first + j) }
            var j = 0
            while j + 8 <= n {
                let b = first + j, group = row + b * blockBytes
                let scales = loadHalves8(group, stride: blockBytes, 0) * loadFloat8(x.scales + b)
                if hasMin { minAcc.addProduct(loadHalves8(group, stride: blockBytes, 2), loadFloat8(x.sums + b)) }
                acc.addProduct(floats(UnsafeRawPointer(sums + j).loadUnaligned(as: SIMD8<Int32>.self)), scales)
                j += 8
            }
            while j < n {
                let b = first + j, dm = loadHalves(row + b * blockBytes, 0)
                tail += Float(sums[j]) * (dm[0] * x.scales[b]) + (hasMin ? dm[1] * x.sums[b] : 0)
                j += 1
            }
            first += n
        }
        return horizontalSum(acc + minAcc) + tail
    }
}
