// Which set of matrix kernels the CPU backend runs: the portable Swift kernels (any CPU), or the C
// kernels for AVX2 or AVX-512 (CEmberKernels), chosen once from what the CPU supports. `EMBER_KERNELS=
// portable|avx2|avx512` forces one (a level the CPU lacks falls back to the best it has), for tests
// and for comparing them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CEmberKernels
import EmberFormats

public enum KernelLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case portable = 0, avx2, avx512

    /// The best level this CPU runs.
    public static let supported = KernelLevel(rawValue: Int(ek_cpu_level())) ?? .portable

    /// The level to use: the one `EMBER_KERNELS` names if the CPU runs it, else the best.
    public static var preferred: KernelLevel {
        guard let value = getenv("EMBER_KERNELS"), let level = allCases.first(where: { $0.description == String(cString: value) }) else {
            return supported
        }
        return min(level, supported)
    }

    /// Every level this CPU can run, for tests that hold each against the others.
    public static var runnable: [KernelLevel] { allCases.filter { $0 <= supported } }

    public var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }
}

/// The C kernels of one level for one weight type.
struct NativeKernels {
    /// Set for quantized types (16-bit activations), nil for float types.
    let quantizedDot: ek_quantized_dot?
    /// The AVX-512 dot on the split planes of the activations (rows of whole block pairs): the row-group
    /// dot of Q4_0, Q4_1 and Q8_0, the split dot of the other types with unsigned weights and an offset
    /// per 32; nil otherwise.
    let splitDot: ek_split_dot?
    /// Set for float types (float activations).
    let floatDot: ek_float_dot?
    let toFloat: ek_to_float
    /// The prefill GEMM, in tiles of `ek_gemm_rows_*` weight rows and `ek_gemm_tokens_*` tokens.
    let gemm: ek_gemm

    /// The kernels of `level` (avx2 or avx512) for `type`, nil for the portable level.
    init?(level: KernelLevel, type: TensorType) {
        #if arch(x86_64)
        guard level != .portable else { return nil }
        typealias Set = (ek_quantized_dot?, ek_float_dot?, ek_to_float)
        let avx512 = level == .avx512
        let set: Set
        switch (type, avx512) {
        case (.q8_0, true): set = (ek_q8_0_dot_avx512, nil, ek_q8_0_to_float_avx512)
        case (.q8_0, false): set = (ek_q8_0_dot_avx2, nil, ek_q8_0_to_float_avx2)
        case (.q4_0, true): set = (ek_q4_0_dot_avx512, nil, ek_q4_0_to_float_avx512)
        case (.q4_0, false): set = (ek_q4_0_dot_avx2, nil, ek_q4_0_to_float_avx2)
        case (.q4_1, true): set = (ek_q4_1_dot_avx512, nil, ek_q4_1_to_float_avx512)
        case (.q4_1, false): set = (ek_q4_1_dot_avx2, nil, ek_q4_1_to_float_avx2)
        case (.q5_0, true): set = (ek_q5_0_dot_avx512, nil, ek_q5_0_to_float_avx512)
        case (.q5_0, false): set = (ek_q5_0_dot_avx2, nil, ek_q5_0_to_float_avx2)
        case (.q5_1, true): set = (ek_q5_1_dot_avx512, nil, ek_q5_1_to_float_avx512)
        case (.q5_1, false): set = (ek_q5_1_dot_avx2, nil, ek_q5_1_to_float_avx2)
        case (.q4_K, true): set = (ek_q4_K_dot_avx512, nil, ek_q4_K_to_float_avx512)
        case (.q4_K, false): set = (ek_q4_K_dot_avx2, nil, ek_q4_K_to_float_avx2)
        case (.q5_K, true): set = (ek_q5_K_dot_avx512, nil, ek_q5_K_to_float_avx512)
        case (.q5_K, false): set = (ek_q5_K_dot_avx2, nil, ek_q5_K_to_float_avx2)
        case (.q6_K, true): set = (ek_q6_K_dot_avx512, nil, ek_q6_K_to_float_avx512)
        case (.q6_K, false): set = (ek_q6_K_dot_avx2, nil, ek_q6_K_to_float_avx2)
        // Float rows stream from memory at two or four bytes a weight: the 256-bit dot products kept
        // up with memory and the 512-bit ones fell ~10% behind (BENCHMARKS.md), so both levels use them.
        case (.f32, true): set = (nil, ek_f32_dot_avx2, ek_f32_to_float_avx512)
        case (.f32, false): set = (nil, ek_f32_dot_avx2, ek_f32_to_float_avx2)
        case (.f16, true): set = (nil, ek_f16_dot_avx2, ek_f16_to_float_avx512)
        case (.f16, false): set = (nil, ek_f16_dot_avx2, ek_f16_to_float_avx2)
        case (.bf16, true): set = (nil, ek_bf16_dot_avx2, ek_bf16_to_float_avx512)
        case (.bf16, false): set = (nil, ek_bf16_dot_avx2, ek_bf16_to_float_avx2)
        default: return nil
        }
        (quantizedDot, floatDot, toFloat) = set
        switch (type, avx512) {
        case (.q8_0, true): splitDot = ek_q8_0_split_dot_avx512
        case (.q4_0, true): splitDot = ek_q4_0_split_dot_avx512
        case (.q4_1, true): splitDot = ek_q4_1_split_dot_avx512
        case (.q5_0, true): splitDot = ek_q5_0_split_dot_avx512
        case (.q5_1, true): splitDot = ek_q5_1_split_dot_avx512
        case (.q4_K, true): splitDot = ek_q4_K_split_dot_avx512
        case (.q5_K, true): splitDot = ek_q5_K_split_dot_avx512
        default: splitDot = nil
        }
        gemm = avx512 ? ek_gemm_avx512 : ek_gemm_avx2
        #else
        return nil  // other CPUs run the portable Swift kernels
        #endif
    }
}
