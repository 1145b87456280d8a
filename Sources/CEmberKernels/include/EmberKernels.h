// Ember's innermost CPU kernels in C with x86 intrinsics, one set per instruction-set level (AVX2,
// AVX-512 with VNNI), chosen at run time by the Swift backend from `ek_cpu_level()`: Swift has no
// per-function target attribute, so one binary could not otherwise carry both (BENCHMARKS.md,
// "CPU kernels", has the measurements that justify C here). Everything else, and the portable path
// for other CPUs, is Swift.
//
// Conventions: a weight matrix is `rows` rows of `n` elements, `row_bytes` apart, in its GGUF block
// layout. Activations for the quantized types are quantized to 16 bits per block of 32 values
// (QuantizedActivations.swift): per token `n` int16 quants, `n / 32` scales and `n / 32` block sums,
// tokens one after another. Outputs are token-major: out[t * out_stride + r].

#ifndef EMBER_KERNELS_H
#define EMBER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

enum {
    EK_LEVEL_PORTABLE = 0,
    EK_LEVEL_AVX2 = 1,    // AVX2, FMA, F16C
    EK_LEVEL_AVX512 = 2,  // AVX-512 F/BW/VL/DQ and VNNI
};

/// The best level this CPU runs.
int ek_cpu_level(void);

/// Decode-sized matrix products with 16-bit activations: out[t][r] = dot(row r, token t).
typedef void (*ek_quantized_dot)(const void *weights, size_t row_bytes, int rows, int n,
                                 const int16_t *quants, const float *scales, const float *sums, int tokens,
                                 float *out, size_t out_stride);

/// The same for the AVX-512 split and row-group dots (avx512.c): the 16-bit quants as two signed-byte
/// planes, q = 256 * hi + lo (|q| <= 32639), per 4 values (one int32 lane of the products) their block's
/// scale, and the block sums of each group of four tokens side by side: per token n bytes of `hi`, n of
/// `lo` and n / 4 floats of `pair_scales`; per group of four tokens n / 8 floats of `grouped_sums`, block
/// b's at 4b + token % 4. n is a multiple of 64.
typedef void (*ek_split_dot)(const void *weights, size_t row_bytes, int rows, int n, const int8_t *hi,
                             const int8_t *lo, const float *pair_scales, const float *grouped_sums, int tokens,
                             float *out, size_t out_stride);

/// The same for float weight types, with float activations x[t * x_stride + k].
typedef void (*ek_float_dot)(const void *weights, size_t row_bytes, int rows, int n,
                             const float *x, size_t x_stride, int tokens, float *out, size_t out_stride);

/// Expands `rows` rows to floats, row-major: out[r * n + k].
typedef void (*ek_to_float)(const void *weights, size_t row_bytes, int rows, int n, float *out);

/// Prefill product on floats: out[t][r] = sum_k w[r * n + k] * xt[k * xt_stride + t], for r < rows and
/// t < tokens. `w` holds a multiple of `ek_gemm_rows_*` rows (pad with zeros) and `xt` a multiple of
/// `ek_gemm_tokens_*` columns (pad with zeros): the tiles are computed whole, stored only where valid.
typedef void (*ek_gemm)(const float *w, int rows, int n, const float *xt, size_t xt_stride, int tokens,
                        float *out, size_t out_stride);

#define EK_DECLARE_LEVEL(level)                                                                      \
    void ek_q8_0_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q4_0_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q4_1_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q5_0_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q5_1_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q4_K_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q5_K_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q6_K_dot_##level(const void *, size_t, int, int, const int16_t *, const float *, const float *, int, float *, size_t); \
    void ek_q8_0_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q4_0_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q4_1_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q5_0_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q5_1_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q4_K_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q5_K_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_q6_K_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_f32_to_float_##level(const void *, size_t, int, int, float *);                                                 \
    void ek_f16_to_float_##level(const void *, size_t, int, int, float *);                                                 \
    void ek_bf16_to_float_##level(const void *, size_t, int, int, float *);                                                \
    void ek_gemm_##level(const float *, int, int, const float *, size_t, int, float *, size_t);

EK_DECLARE_LEVEL(avx2)
EK_DECLARE_LEVEL(avx512)

#define EK_DECLARE_SPLIT(type) \
    void ek_##type##_split_dot_avx512(const void *, size_t, int, int, const int8_t *, const int8_t *, const float *, const float *, int, float *, size_t);
EK_DECLARE_SPLIT(q8_0)
EK_DECLARE_SPLIT(q4_0)
EK_DECLARE_SPLIT(q4_1)
EK_DECLARE_SPLIT(q5_0)
EK_DECLARE_SPLIT(q5_1)
EK_DECLARE_SPLIT(q4_K)
EK_DECLARE_SPLIT(q5_K)

/// Float weights: one dot product for both levels (a 512-bit one was slower, memory being the limit).
void ek_f32_dot_avx2(const void *, size_t, int, int, const float *, size_t, int, float *, size_t);
void ek_f16_dot_avx2(const void *, size_t, int, int, const float *, size_t, int, float *, size_t);
void ek_bf16_dot_avx2(const void *, size_t, int, int, const float *, size_t, int, float *, size_t);

/// Tile sizes of the GEMMs: rows of `w` and tokens of `xt` per tile.
enum { ek_gemm_rows_avx2 = 6, ek_gemm_tokens_avx2 = 16, ek_gemm_rows_avx512 = 8, ek_gemm_tokens_avx512 = 32 };

/// The element kinds of a KV cache the attention kernels read: F16, or ggml's Q8_0 blocks of 32
/// elements (an F16 scale, then 32 signed bytes).
enum { EK_CACHE_F16 = 0, EK_CACHE_Q8_0 = 1 };

/// Attention over a KV cache of `kind` (attention.c), for the `group` queries of one KV head: `keys` and
/// `values` are that head's positions, `head_dim` elements each, one after another.
/// Decode: the queries of one token (`group` rows of `head_dim` floats) over `count` positions, left as
/// an online-softmax state: `group` maxima, `group` sums of exp(score - maximum), then per query the
/// unnormalised weighted values. `scores` holds group * count floats of scratch. head_dim % 8 == 0
/// (% 32 for Q8_0).
void ek_attend_avx2(int kind, const float *q, int group, int head_dim, const void *keys, const void *values, int count, float scale,
                    float *state, float *scores);
/// Prefill: `tokens` (at most EK_FLASH_TOKENS) consecutive tokens at positions start ..< start + tokens,
/// token t's queries at q + t * q_stride, each over positions 0 ... its own, written normalised to
/// out + t * out_stride. `scratch` holds ek_flash_scratch_floats(group, head_dim). head_dim % 16 == 0.
enum { EK_FLASH_TOKENS = 8, EK_FLASH_KEYS = 32 };
size_t ek_flash_scratch_floats(int group, int head_dim);
void ek_flash_attend_avx2(int kind, const float *q, size_t q_stride, int group, int head_dim, int tokens, int start, const void *keys,
                          const void *values, float scale, float *out, size_t out_stride, float *scratch);

/// xt[k * xt_stride + t] = x[t * x_stride + k] for t < tokens, k < n; columns tokens ..< xt_stride zeroed.
void ek_transpose(const float *x, size_t x_stride, int tokens, int n, float *xt, size_t xt_stride);

#endif
