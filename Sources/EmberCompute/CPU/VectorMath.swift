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

@inline(__always)
func truncatedInts(_ floats: SIMD8<Float>) -> SIMD8<Int32> {
    var result = SIMD8<Int32>()
    for lane in 0 ..< 8 { result[lane] = Int32(floats[lane]) }
    return result
}

/// e^x for 8 lanes (Cephes' expf: range reduction by ln 2 and a degree-6 polynomial, ~1 ulp).
/// Inputs below -87.3 give 0 and above 88.7 saturate to about 2^128.
@inline(__always)
func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let underflow = x .< -87.3
    let clamped = x.clamped(lowerBound: SIMD8(repeating: -87.3), upperBound: SIMD8(repeating: 88.7))
    let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
    // ln 2 split in two so that n * ln2 is exact in its high part.
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let y = p * (r * r) + r + 1
    let exponent = (truncatedInts(n) &+ 127) &<< 23
    let result = y * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    return result.replacing(with: 0, where: underflow)
}
