// The AVX2 kernels (with FMA and F16C): the same algorithms as avx512.c on 256-bit vectors. A block
// of 32 weights is two halves of 16 int16 lanes; the fifth bits of the 5-bit types, which AVX-512
// adds under a mask, are spread to bytes before widening.

#if defined(__x86_64__)

#include <immintrin.h>

#include "EmberKernels.h"
#include "common.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

/// An f16 scale, widened with F16C.
INLINE float half(const uint8_t *p) { return _cvtsh_ss(ek_u16(p)); }

/// 32 weights of a block as two halves of 16 int16 lanes, with the block's scale and offset.
typedef struct {
    __m256i low, high;
    float s;
    float m;
} block32;

INLINE float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/// 32 weight bytes (element i in byte i) widened to int16 halves.
INLINE void widen_unsigned(__m256i bytes, __m256i *low, __m256i *high) {
    *low = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(bytes));
    *high = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(bytes, 1));
}

/// 16 bytes of packed nibbles as two halves of 16 bytes: low nibbles are elements 0..15, high
/// nibbles 16..31. Kept in 128-bit registers until widened: no lane-crossing insert or extract.
INLINE void nibble_halves(const uint8_t *qs, __m128i *low, __m128i *high) {
    __m128i q = _mm_loadu_si128((const __m128i *)qs), mask = _mm_set1_epi8(0x0F);
    *low = _mm_and_si128(q, mask);
    *high = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
}

/// Bit i of `bits` as 16 in byte i of 16, for i in `first` ..< `first` + 16: half of the fifth bits of
/// Q5_0 and Q5_1 (each byte takes the byte of `bits` that holds its bit, then tests it).
INLINE __m128i fifth_bit_bytes16(uint32_t bits, int first) {
    __m128i spread = _mm_shuffle_epi8(_mm_set1_epi32((int)bits),
                                      first ? _mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)
                                            : _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    __m128i select = _mm_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(spread, select), select), _mm_set1_epi8(16));
}

INLINE block32 decode_q8_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 34 * (size_t)b;
    block32 r = {_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 2))),
                 _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 18))), half(block), 0};
    return r;
}

INLINE block32 decode_q4_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 18 * (size_t)b;
    // Subtracting 8 makes signed bytes: widen them as such.
    __m128i low, high, bias = _mm_set1_epi8(8);
    nibble_halves(block + 2, &low, &high);
    block32 r = {_mm256_cvtepi8_epi16(_mm_sub_epi8(low, bias)), _mm256_cvtepi8_epi16(_mm_sub_epi8(high, bias)), half(block), 0};
    return r;
}

INLINE block32 decode_q4_1(const uint8_t *row, int b) {
    const uint8_t *block = row + 20 * (size_t)b;
    block32 r = {.s = half(block), .m = half(block + 2)};
    __m128i low, high;
    nibble_halves(block + 4, &low, &high);
    r.low = _mm256_cvtepu8_epi16(low);
    r.high = _mm256_cvtepu8_epi16(high);
    return r;
}

INLINE block32 decode_q5_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 22 * (size_t)b;
    uint32_t bits = ek_u32(block + 2);
    __m128i low, high, bias = _mm_set1_epi8(16);
    nibble_halves(block + 6, &low, &high);
    block32 r = {_mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(low, fifth_bit_bytes16(bits, 0)), bias)),
                 _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(high, fifth_bit_bytes16(bits, 16)), bias)), half(block), 0};
    return r;
}

INLINE block32 decode_q5_1(const uint8_t *row, int b) {
    const uint8_t *block = row + 24 * (size_t)b;
    block32 r = {.s = half(block), .m = half(block + 2)};
    __m128i low, high;
    nibble_halves(block + 8, &low, &high);
    uint32_t bits = ek_u32(block + 4);
    r.low = _mm256_cvtepu8_epi16(_mm_or_si128(low, fifth_bit_bytes16(bits, 0)));
    r.high = _mm256_cvtepu8_epi16(_mm_or_si128(high, fifth_bit_bytes16(bits, 16)));
    return r;
}

/// The nibbles (low if shift is 0, high if 4) of 32 bytes.
INLINE __m256i nibbles32(const uint8_t *qs, int shift) {
    __m256i q = _mm256_loadu_si256((const __m256i *)qs);
    return _mm256_and_si256(_mm256_srli_epi16(q, shift), _mm256_set1_epi8(0x0F));
}

INLINE block32 decode_q4_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 144 * (size_t)(b / 8);
    int j = b % 8, scale, min;
    ek_scale_min_k4(j, block + 4, &scale, &min);
    block32 r = {.s = half(block) * scale, .m = -half(block + 2) * min};
    widen_unsigned(nibbles32(block + 16 + 32 * (j / 2), 4 * (j % 2)), &r.low, &r.high);
    return r;
}

INLINE block32 decode_q5_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 176 * (size_t)(b / 8);
    int j = b % 8, scale, min;
    ek_scale_min_k4(j, block + 4, &scale, &min);
    // Bit j of qh[i] is the fifth bit of element i.
    __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 16));
    __m256i fifth = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), _mm256_set1_epi8(1)), 4);
    block32 r = {.s = half(block) * scale, .m = -half(block + 2) * min};
    widen_unsigned(_mm256_or_si256(nibbles32(block + 48 + 32 * (j / 2), 4 * (j % 2)), fifth), &r.low, &r.high);
    return r;
}

INLINE block32 decode_q6_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 210 * (size_t)(b / 8);
    int h = (b % 8) / 4, k = b % 4;
    __m256i low = nibbles32(block + 64 * h + 32 * (k % 2), 4 * (k / 2));
    __m256i high = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * h));
    high = _mm256_and_si256(_mm256_srli_epi16(high, 2 * k), _mm256_set1_epi8(3));
    __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)), _mm256_set1_epi8(32));
    const int8_t *scales = (const int8_t *)(block + 192 + 8 * h + 2 * k);
    block32 r = {_mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)), _mm256_set1_epi16(scales[0])),
                 _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1)), _mm256_set1_epi16(scales[1])),
                 half(block + 208), 0};
    return r;
}

/// One row against `TB` tokens, each weight block decoded once for all of them.
INLINE void quantized_tile(block32 (*decode)(const uint8_t *, int), int has_min, int TB, const uint8_t *row, int nb,
                           const int16_t *q, const float *d, const float *s, int n, float *out, size_t out_stride) {
    __m256 acc[4];
    float offset[4];
    UNROLL for (int t = 0; t < TB; t++) {
        acc[t] = _mm256_setzero_ps();
        offset[t] = 0;
    }
    for (int b = 0; b < nb; b++) {
        block32 block = decode(row, b);
        UNROLL for (int t = 0; t < TB; t++) {
            const int16_t *a = q + (size_t)t * n + 32 * (size_t)b;
            __m256 products = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(block.low, _mm256_loadu_si256((const __m256i *)a)),
                                                             _mm256_madd_epi16(block.high, _mm256_loadu_si256((const __m256i *)(a + 16)))));
            acc[t] = _mm256_fmadd_ps(products, _mm256_set1_ps(block.s * d[(size_t)t * nb + b]), acc[t]);
            if (has_min) offset[t] += block.m * s[(size_t)t * nb + b];
        }
    }
    UNROLL for (int t = 0; t < TB; t++) out[(size_t)t * out_stride] = horizontal_sum(acc[t]) + offset[t];
}

/// Rows one after another, so that the weights stream through memory in order (interleaving four
/// rows, each a few cache lines long, defeated the prefetcher and cost a third of decode speed);
/// tokens in fours, each weight block decoded once for four tokens.
typedef void (*tile_function)(block32 (*)(const uint8_t *, int), int, int, const uint8_t *, int, const int16_t *,
                              const float *, const float *, int, float *, size_t);

INLINE void quantized_dot(tile_function tile, block32 (*decode)(const uint8_t *, int), int has_min, const void *weights,
                          size_t row_bytes, int rows, int n, const int16_t *q, const float *d, const float *s,
                          int tokens, float *out, size_t out_stride) {
    const uint8_t *base = (const uint8_t *)weights;
    int nb = n / 32;
    for (int t = 0; t < tokens;) {
        int tb = tokens - t >= 4 ? 4 : tokens - t >= 2 ? 2 : 1;
        const int16_t *qt = q + (size_t)t * n;
        const float *dt = d + (size_t)t * nb, *st = s + (size_t)t * nb;
        float *ot = out + (size_t)t * out_stride;
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = base + r * row_bytes;
            if (tb == 4) tile(decode, has_min, 4, row, nb, qt, dt, st, n, ot + r, out_stride);
            else if (tb == 2) tile(decode, has_min, 2, row, nb, qt, dt, st, n, ot + r, out_stride);
            else tile(decode, has_min, 1, row, nb, qt, dt, st, n, ot + r, out_stride);
        }
        t += tb;
    }
}

INLINE __m256 half_to_float(__m256i lanes, int upper, __m256 s, __m256 m) {
    __m128i half = upper ? _mm256_extracti128_si256(lanes, 1) : _mm256_castsi256_si128(lanes);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(half)), s, m);
}

INLINE void quantized_to_float(block32 (*decode)(const uint8_t *, int), const void *weights, size_t row_bytes,
                               int rows, int n, float *out) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)weights + (size_t)r * row_bytes;
        float *o = out + (size_t)r * n;
        for (int b = 0; b < n / 32; b++) {
            block32 block = decode(row, b);
            __m256 s = _mm256_set1_ps(block.s), m = _mm256_set1_ps(block.m);
            _mm256_storeu_ps(o + 32 * b, half_to_float(block.low, 0, s, m));
            _mm256_storeu_ps(o + 32 * b + 8, half_to_float(block.low, 1, s, m));
            _mm256_storeu_ps(o + 32 * b + 16, half_to_float(block.high, 0, s, m));
            _mm256_storeu_ps(o + 32 * b + 24, half_to_float(block.high, 1, s, m));
        }
    }
}

#define QUANTIZED_TO_FLOAT(type)                                                                                \
    void ek_##type##_to_float_avx2(const void *w, size_t row_bytes, int rows, int n, float *out) {              \
        quantized_to_float(decode_##type, w, row_bytes, rows, n, out);                                          \
    }
#define QUANTIZED(type, has_min)                                                                                \
    void ek_##type##_dot_avx2(const void *w, size_t row_bytes, int rows, int n, const int16_t *q, const float *d, \
                              const float *s, int tokens, float *out, size_t out_stride) {                      \
        quantized_dot(quantized_tile, decode_##type, has_min, w, row_bytes, rows, n, q, d, s, tokens, out,      \
                      out_stride);                                                                              \
    }                                                                                                           \
    QUANTIZED_TO_FLOAT(type)

QUANTIZED(q8_0, 0)
QUANTIZED(q4_0, 0)
QUANTIZED(q4_1, 1)
QUANTIZED(q5_0, 0)
QUANTIZED(q5_1, 1)
QUANTIZED_TO_FLOAT(q4_K)
QUANTIZED(q5_K, 1)
QUANTIZED_TO_FLOAT(q6_K)

/// Q4_K a super-block (256 weights) at a time rather than through `decode_q4_K` per 32: the eight
/// 6-bit scales and mins are unpacked together (ggml's bit shuffle on three 32-bit words), d and dmin
/// widened once, each 32-byte load of nibbles serves two sub-blocks, and per token the eight
/// sub-blocks' scales times the activations' scales form one vector, as do the mins times the
/// activations' sums (the offset then costs one FMA per super-block instead of a scalar per block).
INLINE void q4_K_tile(block32 (*decode)(const uint8_t *, int), int has_min, int TB, const uint8_t *row, int nb,
                      const int16_t *q, const float *d, const float *s, int n, float *out, size_t out_stride) {
    (void)decode, (void)has_min;
    int nsb = nb / 8;
    __m256 acc[4], offset[4];
    UNROLL for (int t = 0; t < TB; t++) {
        acc[t] = _mm256_setzero_ps();
        offset[t] = _mm256_setzero_ps();
    }
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    for (int sb = 0; sb < nsb; sb++) {
        const uint8_t *block = row + 144 * (size_t)sb;
        uint32_t packed[4];
        memcpy(packed, block + 4, 12);
        // Bytes 0..7: the scales of sub-blocks 0..7; bytes 8..15: their mins.
        packed[3] = ((packed[2] >> 4) & 0x0f0f0f0f) | (((packed[1] >> 6) & 0x03030303) << 4);
        uint32_t mins_low = packed[1] & 0x3f3f3f3f;
        packed[1] = (packed[2] & 0x0f0f0f0f) | (((packed[0] >> 6) & 0x03030303) << 4);
        packed[2] = mins_low;
        packed[0] &= 0x3f3f3f3f;
        __m128i bytes = _mm_loadu_si128((const __m128i *)packed);
        __m256 scales = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), _mm256_set1_ps(half(block)));
        __m256 mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8))),
                                    _mm256_set1_ps(half(block + 2)));
        __m256 combined[4];
        UNROLL for (int t = 0; t < TB; t++) {
            const float *dt = d + (size_t)t * nb + 8 * (size_t)sb, *st = s + (size_t)t * nb + 8 * (size_t)sb;
            combined[t] = _mm256_mul_ps(scales, _mm256_loadu_ps(dt));
            offset[t] = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(st), offset[t]);
        }
        UNROLL for (int pair = 0; pair < 4; pair++) {
            __m256i nibbles = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * pair));
            __m256i low = _mm256_and_si256(nibbles, low_mask), high = _mm256_and_si256(_mm256_srli_epi16(nibbles, 4), low_mask);
            __m256i l0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(low)), l1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(low, 1));
            __m256i h0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(high)), h1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(high, 1));
            UNROLL for (int t = 0; t < TB; t++) {
                const int16_t *a = q + (size_t)t * n + 256 * (size_t)sb + 64 * pair;
                __m256i first = _mm256_add_epi32(_mm256_madd_epi16(l0, _mm256_loadu_si256((const __m256i *)a)),
                                                 _mm256_madd_epi16(l1, _mm256_loadu_si256((const __m256i *)(a + 16))));
                __m256i second = _mm256_add_epi32(_mm256_madd_epi16(h0, _mm256_loadu_si256((const __m256i *)(a + 32))),
                                                  _mm256_madd_epi16(h1, _mm256_loadu_si256((const __m256i *)(a + 48))));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(first),
                                         _mm256_permutevar8x32_ps(combined[t], _mm256_set1_epi32(2 * pair)), acc[t]);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(second),
                                         _mm256_permutevar8x32_ps(combined[t], _mm256_set1_epi32(2 * pair + 1)), acc[t]);
            }
        }
    }
    UNROLL for (int t = 0; t < TB; t++) out[(size_t)t * out_stride] = horizontal_sum(_mm256_add_ps(acc[t], offset[t]));
}

/// Q6_K a super-block (256 weights) at a time rather than through `decode_q6_K` per 32: d is widened
/// once and, per token, times the eight activation scales as one vector; each half of the super-block
/// loads its low-bit bytes twice and its high-bit bytes once for its four sub-blocks of 32. The int8
/// scales (one per 16 weights) multiply the 6-bit values as int16, as in `decode_q6_K`.
INLINE void q6_K_tile(block32 (*decode)(const uint8_t *, int), int has_min, int TB, const uint8_t *row, int nb,
                      const int16_t *q, const float *d, const float *s, int n, float *out, size_t out_stride) {
    (void)decode, (void)has_min, (void)s;
    __m256 acc[4];
    UNROLL for (int t = 0; t < TB; t++) acc[t] = _mm256_setzero_ps();
    const __m256i low_mask = _mm256_set1_epi8(0x0F), two_bits = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
    for (int sb = 0; sb < nb / 8; sb++) {
        const uint8_t *block = row + 210 * (size_t)sb;
        __m256 scale = _mm256_set1_ps(half(block + 208)), combined[4];
        UNROLL for (int t = 0; t < TB; t++) combined[t] = _mm256_mul_ps(scale, _mm256_loadu_ps(d + (size_t)t * nb + 8 * (size_t)sb));
        UNROLL for (int h = 0; h < 2; h++) {
            __m256i first = _mm256_loadu_si256((const __m256i *)(block + 64 * h));
            __m256i second = _mm256_loadu_si256((const __m256i *)(block + 64 * h + 32));
            __m256i high = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * h));
            UNROLL for (int k = 0; k < 4; k++) {
                __m256i low = k % 2 ? second : first;
                low = _mm256_and_si256(k / 2 ? _mm256_srli_epi16(low, 4) : low, low_mask);
                __m256i top = _mm256_and_si256(_mm256_srli_epi16(high, 2 * k), two_bits);
                __m256i values = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(top, 4)), bias);
                const int8_t *scales = (const int8_t *)(block + 192 + 8 * h + 2 * k);
                __m256i w0 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(values)), _mm256_set1_epi16(scales[0]));
                __m256i w1 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(values, 1)), _mm256_set1_epi16(scales[1]));
                int b = 4 * h + k;
                UNROLL for (int t = 0; t < TB; t++) {
                    const int16_t *a = q + (size_t)t * n + 256 * (size_t)sb + 32 * b;
                    __m256i products = _mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_loadu_si256((const __m256i *)a)),
                                                        _mm256_madd_epi16(w1, _mm256_loadu_si256((const __m256i *)(a + 16))));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products),
                                             _mm256_permutevar8x32_ps(combined[t], _mm256_set1_epi32(b)), acc[t]);
                }
            }
        }
    }
    UNROLL for (int t = 0; t < TB; t++) out[(size_t)t * out_stride] = horizontal_sum(acc[t]);
}

void ek_q6_K_dot_avx2(const void *w, size_t row_bytes, int rows, int n, const int16_t *q, const float *d, const float *s,
                      int tokens, float *out, size_t out_stride) {
    quantized_dot(q6_K_tile, decode_q6_K, 0, w, row_bytes, rows, n, q, d, s, tokens, out, out_stride);
}

void ek_q4_K_dot_avx2(const void *w, size_t row_bytes, int rows, int n, const int16_t *q, const float *d, const float *s,
                      int tokens, float *out, size_t out_stride) {
    quantized_dot(q4_K_tile, decode_q4_K, 1, w, row_bytes, rows, n, q, d, s, tokens, out, out_stride);
}

// Float weights: 8 elements widened to float per step.
INLINE __m256 load_f32(const uint8_t *p, int k) { return _mm256_loadu_ps((const float *)p + k); }
INLINE __m256 load_f16(const uint8_t *p, int k) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + k)));
}
INLINE __m256 load_bf16(const uint8_t *p, int k) {
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
INLINE float scalar_f32(const uint8_t *p, int k) { return ((const float *)p)[k]; }
INLINE float scalar_f16(const uint8_t *p, int k) { return half(p + 2 * (size_t)k); }
INLINE float scalar_bf16(const uint8_t *p, int k) {
    uint32_t bits = (uint32_t)ek_u16(p + 2 * (size_t)k) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// One row against `TB` tokens (1 or 2), each weight vector loaded once for both: four accumulators
/// per token, since a single FMA chain would wait on its own latency rather than on memory. A token's
/// sums run in the same order whatever TB is, so its result does not depend on the tokens beside it.
INLINE void float_tile(__m256 (*load)(const uint8_t *, int), float (*scalar)(const uint8_t *, int), int TB,
                       const uint8_t *row, int n, const float *x, size_t x_stride, float *out, size_t out_stride) {
    __m256 acc[2][4];
    UNROLL for (int t = 0; t < TB; t++) UNROLL for (int a = 0; a < 4; a++) acc[t][a] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        UNROLL for (int a = 0; a < 4; a++) {
            __m256 w = load(row, k + 8 * a);
            UNROLL for (int t = 0; t < TB; t++) {
                acc[t][a] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + (size_t)t * x_stride + k + 8 * a), acc[t][a]);
            }
        }
    }
    for (; k + 8 <= n; k += 8) {
        __m256 w = load(row, k);
        UNROLL for (int t = 0; t < TB; t++) acc[t][0] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + (size_t)t * x_stride + k), acc[t][0]);
    }
    UNROLL for (int t = 0; t < TB; t++) {
        float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
        for (int j = k; j < n; j++) sum += scalar(row, j) * x[(size_t)t * x_stride + j];
        out[(size_t)t * out_stride] = sum;
    }
}

/// Rows one after another, so that the weights stream through memory in order; tokens in pairs, each
/// weight vector loaded once for two tokens.
INLINE void float_dot(__m256 (*load)(const uint8_t *, int), float (*scalar)(const uint8_t *, int), const void *weights,
                      size_t row_bytes, int rows, int n, const float *x, size_t x_stride, int tokens, float *out,
                      size_t out_stride) {
    const uint8_t *base = (const uint8_t *)weights;
    for (int t = 0; t < tokens;) {
        int tb = tokens - t >= 2 ? 2 : 1;
        const float *xt = x + (size_t)t * x_stride;
        float *ot = out + (size_t)t * out_stride;
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = base + r * row_bytes;
            if (tb == 2) float_tile(load, scalar, 2, row, n, xt, x_stride, ot + r, out_stride);
            else float_tile(load, scalar, 1, row, n, xt, x_stride, ot + r, out_stride);
        }
        t += tb;
    }
}

INLINE void float_to_float(__m256 (*load)(const uint8_t *, int), float (*scalar)(const uint8_t *, int),
                           const void *weights, size_t row_bytes, int rows, int n, float *out) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)weights + (size_t)r * row_bytes;
        int k = 0;
        for (; k + 8 <= n; k += 8) _mm256_storeu_ps(out + (size_t)r * n + k, load(row, k));
        for (; k < n; k++) out[(size_t)r * n + k] = scalar(row, k);
    }
}

#define FLOAT(type)                                                                                              \
    void ek_##type##_dot_avx2(const void *w, size_t row_bytes, int rows, int n, const float *x, size_t x_stride, \
                              int tokens, float *out, size_t out_stride) {                                       \
        float_dot(load_##type, scalar_##type, w, row_bytes, rows, n, x, x_stride, tokens, out, out_stride);      \
    }                                                                                                            \
    void ek_##type##_to_float_avx2(const void *w, size_t row_bytes, int rows, int n, float *out) {               \
        float_to_float(load_##type, scalar_##type, w, row_bytes, rows, n, out);                                  \
    }

FLOAT(f32)
FLOAT(f16)
FLOAT(bf16)

void ek_gemm_avx2(const float *w, int rows, int n, const float *xt, size_t xt_stride, int tokens, float *out,
                  size_t out_stride) {
    enum { MR = ek_gemm_rows_avx2, NR = ek_gemm_tokens_avx2 };
    for (int r0 = 0; r0 < rows; r0 += MR) {
        const float *wr = w + (size_t)r0 * n;
        for (int t0 = 0; t0 < tokens; t0 += NR) {
            __m256 acc[MR][2];
            UNROLL for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
            const float *x = xt + t0;
            for (int k = 0; k < n; k++) {
                __m256 x0 = _mm256_loadu_ps(x + (size_t)k * xt_stride), x1 = _mm256_loadu_ps(x + (size_t)k * xt_stride + 8);
                UNROLL for (int i = 0; i < MR; i++) {
                    __m256 weight = _mm256_broadcast_ss(wr + (size_t)i * n + k);
                    acc[i][0] = _mm256_fmadd_ps(x0, weight, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(x1, weight, acc[i][1]);
                }
            }
            int valid_rows = rows - r0 < MR ? rows - r0 : MR, valid_tokens = tokens - t0 < NR ? tokens - t0 : NR;
            for (int i = 0; i < valid_rows; i++) {
                float lanes[NR];
                _mm256_storeu_ps(lanes, acc[i][0]);
                _mm256_storeu_ps(lanes + 8, acc[i][1]);
                for (int t = 0; t < valid_tokens; t++) out[(size_t)(t0 + t) * out_stride + r0 + i] = lanes[t];
            }
        }
    }
}

#pragma clang attribute pop

#endif
