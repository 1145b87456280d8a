// Building blocks shared by the per-type weight kernels: half-precision loads, int8/int16 widening,
// int16-to-int32 folding, int-to-float conversion, horizontal sums, the fifth-bit table of the
// 5-bit types and the unpacking of the 6-bit K-quant scales.
// The SIMD helpers are loops of at most 16 lanes marked @inline(__always): LLVM turns each into one
// AVX2 instruction, whereas the stdlib SIMD conversions, `sum()`, `lowHalf` and SIMD array literals
// stay as calls or allocations in hot loops (../shared/notes/cpu-kernels.md).
//
// Integer dot products multiply in int16 lanes and add at most two products per lane before
// widening to int32. That is exact because activation quants lie in [-127, 127] (`quantizeQ8` never
// yields -128): two products of an int8 weight and such an activation are at most 2 * 128 * 127 = 32512.

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

@inline(__always)
func loadInt8x16(_ p: UnsafePointer<Int8>, _ offset: Int) -> SIMD16<Int16> {
    loadInt8x16(UnsafeRawPointer(p), offset)
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

/// Adds lane i and lane i + 8 as int32: a dot product only needs the total, and this pairing is
/// two vpmovsxwd and one vpaddd (pairing adjacent lanes was not turned into vpmaddwd).
@inline(__always)
func widenSum(_ v: SIMD16<Int16>) -> SIMD8<Int32> {
    var r = SIMD8<Int32>()
    for i in 0 ..< 8 { r[i] = Int32(v[i]) &+ Int32(v[i + 8]) }
    return r
}

@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0 ..< 8 { r[i] = Float(v[i]) }
    return r
}

/// Dot product of 32 int8 at `a` with 32 activation quants at `b`, as eight int32 partial sums.
@inline(__always)
func dotInt8x32(_ a: UnsafeRawPointer, _ b: UnsafePointer<Int8>) -> SIMD8<Int32> {
    widenSum(loadInt8x16(a, 0) &* loadInt8x16(b, 0) &+ loadInt8x16(a, 16) &* loadInt8x16(b, 16))
}

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
/// when `hasMin`): sum over blocks b of d_b * d_a_b * sum_b (+ m_b * s_a_b), where `block(b)` gives
/// block b's integer dot product as eight float partial sums. Eight blocks at a time, so that their
/// scales convert and multiply as one vector; consecutive blocks alternate between two accumulators
/// so that their FMAs do not wait on each other.
@inline(__always)
func accumulateBlocks(_ row: UnsafeRawPointer, blockBytes: Int, _ x: Q8Row, count: Int, hasMin: Bool,
                      _ block: (Int) -> SIMD8<Float>) -> Float {
    let blocks = count / 32
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), minAcc = SIMD8<Float>()
    var b = 0
    while b + 8 <= blocks {
        let group = row + b * blockBytes
        let scales = loadHalves8(group, stride: blockBytes, 0) * loadFloat8(x.scales + b)
        if hasMin { minAcc.addProduct(loadHalves8(group, stride: blockBytes, 2), loadFloat8(x.sums + b)) }
        for j in stride(from: 0, to: 8, by: 2) {
            acc0.addProduct(block(b + j), SIMD8(repeating: scales[j]))
            acc1.addProduct(block(b + j + 1), SIMD8(repeating: scales[j + 1]))
        }
        b += 8
    }
    var sum = horizontalSum(acc0 + acc1 + minAcc)
    while b < blocks {
        let dm = loadHalves(row + b * blockBytes, 0)
        sum += horizontalSum(block(b)) * (dm[0] * x.scales[b]) + (hasMin ? dm[1] * x.sums[b] : 0)
        b += 1
    }
    return sum
}
