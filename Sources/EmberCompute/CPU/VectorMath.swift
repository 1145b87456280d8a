// Small SIMD helpers shared by the CPU operations: a vectorised exp, and Float16 widening/narrowing
// written lane by lane (LLVM turns an 8-lane loop into one vcvtph2ps / vcvtps2ph; the stdlib's SIMD
// conversion initialisers stay real calls, see ../shared/notes/cpu-kernels.md).

@inline(__always)
func widen(_ halves: SIMD8<Float16>) -> SIMD8<Float> {
    var result = SIMD8<Float>()
    for lane in 0 ..< 8 { result[lane] = Float(halves[lane]) }
    return result
}

@inline(__always)
func narrow(_ floats: SIMD8<Float>) -> SIMD8<Float16> {
    var result = SIMD8<Float16>()
    for lane in 0 ..< 8 { result[lane] = Float16(floats[lane]) }
    return result
}

/// e^x for 8 lanes (Cephes' expf: range reduction by ln 2 and a degree-6 polynomial, ~1 ulp).
/// Inputs below -87.3 give 0 and above 88.7 saturate to about 2^128. Every multiply-add is an
/// explicit `addingProduct` (Swift does not fuse `a * b + c` on its own), and the reduction rounds
/// by adding 1.5 * 2^23, so that n lands in the low mantissa bits, from where the exponent of 2^n is
/// built with integer operations (no rounding or conversion instruction, and no per-lane overflow
/// check as `Int32(_:)` makes).
@_transparent
func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Clamped with compares and blends: `clamped(lowerBound:upperBound:)` stays two calls to the
    // stdlib's generic pointwiseMin/Max.
    let low = SIMD8<Float>(repeating: -87.3), high = SIMD8<Float>(repeating: 88.7)
    let underflow = x .< low
    let clamped = x.replacing(with: low, where: underflow).replacing(with: high, where: x .> high)
    let magic = SIMD8<Float>(repeating: 0x1.8p23)
    let shifted = magic.addingProduct(clamped, SIMD8(repeating: 1.442_695_04))
    let n = shifted - magic
    // ln 2 split in two so that n * ln2 is exact in its high part.
    let r = clamped.addingProduct(n, SIMD8(repeating: -0.693_359_375)).addingProduct(n, SIMD8(repeating: 2.121_944_4e-4))
    var p = SIMD8<Float>(repeating: 1.398_199_950_7e-3).addingProduct(SIMD8(repeating: 1.987_569_15e-4), r)
    p = SIMD8(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = SIMD8(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = SIMD8(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = SIMD8(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    let y = (r + 1).addingProduct(p, r * r)
    let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self) &+ 127) &<< 23
    let result = y * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    return result.replacing(with: 0, where: underflow)
}
