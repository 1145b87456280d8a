// The AVX-512 kernels (F, BW, VL, DQ, VNNI; F16C, FMA). Every quantized type is decoded block by
// block into the same form, 32 int16 weights w with a scale s and an offset m (value = s * w + m), so
// one dot product, one float expansion and one GEMM serve all of them:
//  - dot: vpmaddwd of the weights with the 16-bit activation quants, converted to float and scaled
//    per block (the block scales differ, so integer sums cannot run across blocks);
//  - to_float: s * w + m, for the prefill GEMM;
//  - gemm: 8 weight rows x 32 tokens of float accumulators, each weight broadcast against 32 tokens
//    of transposed activations.
// Decode-sized products run faster on the activations split into byte planes: the split dot (the
// 5-bit and K types) and the row-group dot (Q4_0, Q4_1, Q8_0), both below.

#if defined(__x86_64__)

#include <immintrin.h>

#include "EmberKernels.h"
#include "common.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c"))), \
                             apply_to = function)

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

/// An f16 scale, widened with F16C.
INLINE float half(const uint8_t *p) { return _cvtsh_ss(ek_u16(p)); }

/// 32 weights of a block as int16 lanes, with the block's scale and offset.
typedef struct {
    __m512i w;
    float s;
    float m;
} block32;

/// 16 bytes of packed nibbles: low nibbles are elements 0..15, high nibbles 16..31.
INLINE __m512i nibbles(const uint8_t *qs) {
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m128i low = _mm_and_si128(q, _mm_set1_epi8(0x0F));
    __m128i high = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F));
    return _mm512_cvtepu8_epi16(_mm256_set_m128i(high, low));
}

/// The nibbles (low if shift is 0, high if 4) of 32 bytes.
INLINE __m512i nibbles32(const uint8_t *qs, int shift) {
    __m256i q = _mm256_loadu_si256((const __m256i *)qs);
    q = _mm256_and_si256(_mm256_srli_epi16(q, shift), _mm256_set1_epi8(0x0F));
    return _mm512_cvtepu8_epi16(q);
}

INLINE block32 decode_q8_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 34 * (size_t)b;
    block32 r = {_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(block + 2))), half(block), 0};
    return r;
}

INLINE block32 decode_q4_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 18 * (size_t)b;
    block32 r = {_mm512_sub_epi16(nibbles(block + 2), _mm512_set1_epi16(8)), half(block), 0};
    return r;
}

INLINE block32 decode_q4_1(const uint8_t *row, int b) {
    const uint8_t *block = row + 20 * (size_t)b;
    block32 r = {nibbles(block + 4), half(block), half(block + 2)};
    return r;
}

/// Adds 16 to the lanes whose bit is set in `bits`: the fifth bit of the 5-bit types.
INLINE __m512i fifth_bits(__m512i w, uint32_t bits) {
    return _mm512_mask_add_epi16(w, (__mmask32)bits, w, _mm512_set1_epi16(16));
}

INLINE block32 decode_q5_0(const uint8_t *row, int b) {
    const uint8_t *block = row + 22 * (size_t)b;
    __m512i w = fifth_bits(nibbles(block + 6), ek_u32(block + 2));
    block32 r = {_mm512_sub_epi16(w, _mm512_set1_epi16(16)), half(block), 0};
    return r;
}

INLINE block32 decode_q5_1(const uint8_t *row, int b) {
    const uint8_t *block = row + 24 * (size_t)b;
    block32 r = {fifth_bits(nibbles(block + 8), ek_u32(block + 4)), half(block), half(block + 2)};
    return r;
}

/// Sub-block b % 8 of super-block b / 8: 32 nibbles of qs[32 * (j / 2)], low for even j.
INLINE block32 decode_q4_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 144 * (size_t)(b / 8);
    int j = b % 8, scale, min;
    ek_scale_min_k4(j, block + 4, &scale, &min);
    block32 r = {nibbles32(block + 16 + 32 * (j / 2), 4 * (j % 2)), half(block) * scale,
                 -half(block + 2) * min};
    return r;
}

INLINE block32 decode_q5_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 176 * (size_t)(b / 8);
    int j = b % 8, scale, min;
    ek_scale_min_k4(j, block + 4, &scale, &min);
    // Bit j of qh[i] is the fifth bit of element i: move it to each byte's top bit for movemask.
    __m256i qh = _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)(block + 16)), 7 - j);
    __m512i w = fifth_bits(nibbles32(block + 48 + 32 * (j / 2), 4 * (j % 2)), (uint32_t)_mm256_movemask_epi8(qh));
    block32 r = {w, half(block) * scale, -half(block + 2) * min};
    return r;
}

/// Part k of half h (b % 8 = 4h + k): low four bits from ql, top two from qh, minus 32, times the int8
/// scale of each 16 values; d is the block's scale.
INLINE block32 decode_q6_K(const uint8_t *row, int b) {
    const uint8_t *block = row + 210 * (size_t)(b / 8);
    int h = (b % 8) / 4, k = b % 4;
    __m256i low = _mm256_loadu_si256((const __m256i *)(block + 64 * h + 32 * (k % 2)));
    low = _mm256_and_si256(_mm256_srli_epi16(low, 4 * (k / 2)), _mm256_set1_epi8(0x0F));
    __m256i high = _mm256_loadu_si256((const __m256i *)(block + 128 + 32 * h));
    high = _mm256_and_si256(_mm256_srli_epi16(high, 2 * k), _mm256_set1_epi8(3));
    __m512i q = _mm512_cvtepu8_epi16(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)));
    const int8_t *scales = (const int8_t *)(block + 192 + 8 * h + 2 * k);
    __m512i scale = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(scales[0])),
                                       _mm256_set1_epi16(scales[1]), 1);
    block32 r = {_mm512_mullo_epi16(_mm512_sub_epi16(q, _mm512_set1_epi16(32)), scale), half(block + 208), 0};
    return r;
}

/// One row against `TB` tokens, each weight block decoded once for all of them.
INLINE void quantized_tile(block32 (*decode)(const uint8_t *, int), int has_min, int TB, const uint8_t *row, int nb,
                           const int16_t *q, const float *d, const float *s, int n, float *out, size_t out_stride) {
    __m512 acc[4];
    float offset[4];
    UNROLL for (int t = 0; t < TB; t++) {
        acc[t] = _mm512_setzero_ps();
        offset[t] = 0;
    }
    for (int b = 0; b < nb; b++) {
        block32 block = decode(row, b);
        UNROLL for (int t = 0; t < TB; t++) {
            const int16_t *a = q + (size_t)t * n + 32 * (size_t)b;
            __m512 products = _mm512_cvtepi32_ps(_mm512_madd_epi16(block.w, _mm512_loadu_si512((const void *)a)));
            acc[t] = _mm512_fmadd_ps(products, _mm512_set1_ps(block.s * d[(size_t)t * nb + b]), acc[t]);
            if (has_min) offset[t] += block.m * s[(size_t)t * nb + b];
        }
    }
    UNROLL for (int t = 0; t < TB; t++) out[(size_t)t * out_stride] = _mm512_reduce_add_ps(acc[t]) + offset[t];
}

/// Rows one after another, so that the weights stream through memory in order (interleaving four
/// rows, each a few cache lines long, defeated the prefetcher and cost a third of decode speed);
/// tokens in fours, each weight block decoded once for four tokens.
INLINE void quantized_dot(block32 (*decode)(const uint8_t *, int), int has_min, const void *weights,
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
            if (tb == 4) quantized_tile(decode, has_min, 4, row, nb, qt, dt, st, n, ot + r, out_stride);
            else if (tb == 2) quantized_tile(decode, has_min, 2, row, nb, qt, dt, st, n, ot + r, out_stride);
            else quantized_tile(decode, has_min, 1, row, nb, qt, dt, st, n, ot + r, out_stride);
        }
        t += tb;
    }
}

// The split dot (`ek_split_dot`): the types whose weights are unsigned integers with a scale and an
// offset per 32 values (Q5_0, Q5_1, Q4_K, Q5_K; Q4_0 and Q4_1 take the row-group dot below) take two
// blocks, 64 weights, as bytes in one register, and multiply them with vpdpbusd (unsigned bytes x
// signed bytes, four products per int32 lane) against the two signed-byte halves of each 16-bit
// activation quant, q = 256 * hi + lo: the lane sums are exactly those of the 16-bit products, in two
// instructions per 64 values instead of one vpmaddwd per 32. Per token and block pair: six
// operations (two vpdpbusd, a shift, a convert, the scale product, an FMA) against about seven per
// block above. The offsets (m per block: the weights' minimum, or -16 s for Q5_0) meet the
// activations' block sums of up to four tokens at once, in a 128-bit FMA per block. On this machine's
// AVX-512 (two 256-bit halves per instruction) a 4-token step was 1.3-1.4x faster than with the
// 16-bit dot and a 1-token step the same, for Q4_1 (scripts/bench/split_dot.c, before the row-group
// dot). Q8_0, whose bytes are signed, measured 0.9x this way with its bytes offset by 128.

/// 64 unsigned weights of two consecutive blocks, with their two scales (each on the 8 lanes of its
/// block) and their two offsets.
typedef struct {
    __m512i w;
    __m512 s;
    float m0, m1;
} pair64;

INLINE __m512 pair_scales(float s0, float s1) { return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1); }

/// The nibbles of two blocks' 16 packed bytes each, as 64 bytes: block 0's low then high nibbles,
/// then block 1's.
INLINE __m512i nibble_pair(const uint8_t *q0, const uint8_t *q1) {
    __m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                        _mm_loadu_si128((const __m128i *)q1), 1);
    __m256i low = _mm256_and_si256(x, _mm256_set1_epi8(0x0F));
    __m256i high = _mm256_and_si256(_mm256_srli_epi16(x, 4), _mm256_set1_epi8(0x0F));
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);  // low0 low1 high0 high1
    return _mm512_shuffle_i64x2(w, w, _MM_SHUFFLE(3, 1, 2, 0));            // low0 high0 low1 high1
}

/// Both nibbles of 32 packed bytes: the low ones (one sub-block) then the high ones (the next).
INLINE __m512i nibble_halves(const uint8_t *qs) {
    __m256i x = _mm256_loadu_si256((const __m256i *)qs);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(x, _mm256_set1_epi8(0x0F))),
                              _mm256_and_si256(_mm256_srli_epi16(x, 4), _mm256_set1_epi8(0x0F)), 1);
}

/// Adds 16 to the bytes whose bit is set in `bits`: the fifth bit of the 5-bit types.
INLINE __m512i fifth_bit_bytes(__m512i w, uint64_t bits) {
    return _mm512_mask_add_epi8(w, (__mmask64)bits, w, _mm512_set1_epi8(16));
}

INLINE pair64 pair_q5_0(const uint8_t *row, int p) {
    const uint8_t *b0 = row + 44 * (size_t)p, *b1 = b0 + 22;
    float s0 = half(b0), s1 = half(b1);
    __m512i w = fifth_bit_bytes(nibble_pair(b0 + 6, b1 + 6), ek_u32(b0 + 2) | (uint64_t)ek_u32(b1 + 2) << 32);
    pair64 r = {w, pair_scales(s0, s1), -16 * s0, -16 * s1};
    return r;
}

INLINE pair64 pair_q5_1(const uint8_t *row, int p) {
    const uint8_t *b0 = row + 48 * (size_t)p, *b1 = b0 + 24;
    __m512i w = fifth_bit_bytes(nibble_pair(b0 + 8, b1 + 8), ek_u32(b0 + 4) | (uint64_t)ek_u32(b1 + 4) << 32);
    pair64 r = {w, pair_scales(half(b0), half(b1)), half(b0 + 2), half(b1 + 2)};
    return r;
}

/// Weights `w` of sub-blocks 2j and 2j + 1 of a Q4_K/Q5_K super-block, with their scales and offsets.
INLINE pair64 k_pair(const uint8_t *block, int j, __m512i w) {
    int scale0, min0, scale1, min1;
    ek_scale_min_k4(2 * j, block + 4, &scale0, &min0);
    ek_scale_min_k4(2 * j + 1, block + 4, &scale1, &min1);
    float d = half(block), dmin = half(block + 2);
    pair64 r = {w, pair_scales(d * scale0, d * scale1), -dmin * min0, -dmin * min1};
    return r;
}

/// Sub-blocks 2j and 2j + 1 of super-block p / 4 (j = p % 4): the low and high nibbles of qs[32 * j].
INLINE pair64 pair_q4_K(const uint8_t *row, int p) {
    const uint8_t *block = row + 144 * (size_t)(p / 4);
    return k_pair(block, p % 4, nibble_halves(block + 16 + 32 * (p % 4)));
}

INLINE pair64 pair_q5_K(const uint8_t *row, int p) {
    const uint8_t *block = row + 176 * (size_t)(p / 4);
    int j = p % 4;
    // Bit 2j (2j + 1) of qh[i] is the fifth bit of element i of the first (second) sub-block.
    __m256i qh = _mm256_loadu_si256((const __m256i *)(block + 16));
    uint64_t bits = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(qh, 7 - 2 * j)) |
                    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(qh, 6 - 2 * j)) << 32;
    return k_pair(block, j, fifth_bit_bytes(nibble_halves(block + 48 + 32 * j), bits));
}

/// The split planes of up to four tokens from token t: four, then a pair, then one (a tile never
/// crosses a group of four, whose block sums lie side by side in `grouped_sums`, at `lane` on).
typedef struct {
    int count, lane;
    const int8_t *hi, *lo;
    const float *pair_scales, *grouped_sums;
    float *out;
} split_tokens;

INLINE split_tokens split_tokens_at(int t, int tokens, int n, const int8_t *hi, const int8_t *lo, const float *pair_scales,
                                    const float *grouped_sums, float *out, size_t out_stride) {
    split_tokens k = {tokens - t >= 4 ? 4 : tokens - t >= 2 ? 2 : 1, t % 4, hi + (size_t)t * n, lo + (size_t)t * n,
                      pair_scales + (size_t)t * (n / 4), grouped_sums + (size_t)(t / 4) * (n / 8),
                      out + (size_t)t * out_stride};
    return k;
}

/// One row against `TB` tokens, each block pair decoded once for all of them. The offsets of tokens
/// t0 ..< t0 + TB (within a group of four) run in the lanes of one 128-bit vector, each lane's sum in
/// block order whatever TB is, so a token's result does not depend on the tokens beside it.
INLINE void split_tile(pair64 (*decode)(const uint8_t *, int), int TB, const uint8_t *row, int n, split_tokens k,
                       float *out, size_t out_stride) {
    __m512 acc[4];
    __m128 offsets = _mm_setzero_ps();
    UNROLL for (int t = 0; t < TB; t++) acc[t] = _mm512_setzero_ps();
    for (int p = 0; p < n / 64; p++) {
        pair64 pair = decode(row, p);
        offsets = _mm_fmadd_ps(_mm_set1_ps(pair.m0), _mm_loadu_ps(k.grouped_sums + 8 * (size_t)p), offsets);
        offsets = _mm_fmadd_ps(_mm_set1_ps(pair.m1), _mm_loadu_ps(k.grouped_sums + 8 * (size_t)p + 4), offsets);
        UNROLL for (int t = 0; t < TB; t++) {
            size_t at = (size_t)t * n + 64 * (size_t)p;
            __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pair.w, _mm512_loadu_si512((const void *)(k.hi + at)));
            sum = _mm512_dpbusd_epi32(_mm512_slli_epi32(sum, 8), pair.w, _mm512_loadu_si512((const void *)(k.lo + at)));
            __m512 scale = _mm512_mul_ps(pair.s, _mm512_loadu_ps(k.pair_scales + (size_t)t * (n / 4) + 16 * (size_t)p));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[t]);
        }
    }
    float offset[4];
    _mm_storeu_ps(offset, offsets);
    UNROLL for (int t = 0; t < TB; t++) out[(size_t)t * out_stride] = _mm512_reduce_add_ps(acc[t]) + offset[k.lane + t];
}

/// As `quantized_dot`: rows in order, tokens in fours.
INLINE void split_dot(pair64 (*decode)(const uint8_t *, int), const void *weights, size_t row_bytes, int rows, int n,
                      const int8_t *hi, const int8_t *lo, const float *pair_scales, const float *grouped_sums, int tokens,
                      float *out, size_t out_stride) {
    for (int t = 0; t < tokens;) {
        split_tokens k = split_tokens_at(t, tokens, n, hi, lo, pair_scales, grouped_sums, out, out_stride);
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = (const uint8_t *)weights + r * row_bytes;
            if (k.count == 4) split_tile(decode, 4, row, n, k, k.out + r, out_stride);
            else if (k.count == 2) split_tile(decode, 2, row, n, k, k.out + r, out_stride);
            else split_tile(decode, 1, row, n, k, k.out + r, out_stride);
        }
        t += k.count;
    }
}

#define SPLIT(type)                                                                                               \
    void ek_##type##_split_dot_avx512(const void *w, size_t row_bytes, int rows, int n, const int8_t *hi,        \
                                      const int8_t *lo, const float *pair_scales, const float *grouped_sums,     \
                                      int tokens, float *out, size_t out_stride) {                               \
        split_dot(pair_##type, w, row_bytes, rows, n, hi, lo, pair_scales, grouped_sums, tokens, out, out_stride); \
    }

SPLIT(q5_0)
SPLIT(q5_1)
SPLIT(q4_K)
SPLIT(q5_K)

// The row-group dot: for Q4_0, Q4_1 and Q8_0 the split dot turns around, each vector holding 4
// weights of 16 rows (one int32 lane per row) rather than 64 weights of one row. Then a vpdpbusd
// multiplies the 16 rows with 4 activation bytes broadcast from memory, and after 8 steps each lane
// holds its row's whole block sum: no reduction across lanes, and per token and block of 16 rows
// one scale product and two FMAs instead of 16 (the multiply ports are this kernel's limit). The
// 16 rows' blocks come in by a 4 x 4 transpose of dwords (four unpack pairs), their scales by one
// gather, so the GGUF layout is read as it lies, no repacking. Lane p holds row 4 (p % 4) + p / 4
// (the transpose's order), put back by one permute at the store. A group past the last row repeats
// the last row in its spare lanes and stores only the valid ones. Rows read 16 at once do not stream
// in order, which the hardware prefetcher does not follow: each tile prefetches the group two ahead
// into L2, a few lines per block (one group ahead into L1, a 1536-wide Q8_0 group evicted the lines
// in use and a Q8_0 model decoded at 0.65x). scripts/bench/split_dot.c, against the 16-bit dot:
// Q4_1 1.7-2.5x (the split dot above: 0.9-1.5x), Q8_0 0.93-0.96x for 1 token and 1.2-1.9x for 2 to 4.

/// The weights of one block of 16 rows: step s (elements 4s ..< 4s + 4 of each row) as unsigned
/// bytes in w[s], the rows' scales and offsets (value = s * w + m), lane p for row 4 (p % 4) + p / 4.
typedef struct {
    __m512i w[8];
    __m512 s, m;
} group16;

/// How far ahead of its rows a group tile prefetches, in groups.
enum { groups_ahead = 2 };

/// The lane order of a group: lane p holds row 4 (p % 4) + p / 4 (its own inverse).
INLINE __m512i group_order(void) { return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15); }

/// Dword s of the 16 bytes at `at[j]` past `p` for every row j, as lane p of v[s].
INLINE void transpose16(const uint8_t *p, const size_t *at, __m512i v[4]) {
    __m512i z[4];
    UNROLL for (int k = 0; k < 4; k++) {
        __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + at[4 * k])));
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + at[4 * k + 1])), 1);
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + at[4 * k + 2])), 2);
        z[k] = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)(p + at[4 * k + 3])), 3);
    }
    __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]), a1 = _mm512_unpackhi_epi32(z[0], z[1]);
    __m512i a2 = _mm512_unpacklo_epi32(z[2], z[3]), a3 = _mm512_unpackhi_epi32(z[2], z[3]);
    v[0] = _mm512_unpacklo_epi64(a0, a2), v[1] = _mm512_unpackhi_epi64(a0, a2);
    v[2] = _mm512_unpacklo_epi64(a1, a3), v[3] = _mm512_unpackhi_epi64(a1, a3);
}

/// 16 packed nibble bytes per row (element i low, i + 16 high) as the 8 steps.
INLINE void nibble_steps(const uint8_t *qs, const size_t *at, __m512i w[8]) {
    __m512i v[4];
    transpose16(qs, at, v);
    UNROLL for (int s = 0; s < 4; s++) {
        w[s] = _mm512_and_si512(v[s], _mm512_set1_epi8(0x0F));
        w[s + 4] = _mm512_and_si512(_mm512_srli_epi16(v[s], 4), _mm512_set1_epi8(0x0F));
    }
}

/// The f16 in the low (shift 0) or high (16) half of each lane, widened.
INLINE __m512 half_lanes(__m512i x, int shift) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(x, shift))); }

/// The scales of the types without a minimum, the f16 at each block's start, and their offsets for
/// weights stored with `zero` added.
INLINE void zero_point_scales(group16 *g, const uint8_t *block, __m512i lanes, float zero) {
    g->s = half_lanes(_mm512_i32gather_epi32(lanes, (const void *)block, 1), 0);
    g->m = _mm512_mul_ps(g->s, _mm512_set1_ps(-zero));
}

INLINE group16 group_q4_0(const uint8_t *block, const size_t *at, __m512i lanes) {
    group16 g;
    nibble_steps(block + 2, at, g.w);
    zero_point_scales(&g, block, lanes, 8);
    return g;
}

INLINE group16 group_q4_1(const uint8_t *block, const size_t *at, __m512i lanes) {
    group16 g;
    nibble_steps(block + 4, at, g.w);
    __m512i scales = _mm512_i32gather_epi32(lanes, (const void *)block, 1);
    g.s = half_lanes(scales, 0);
    g.m = half_lanes(scales, 16);
    return g;
}

/// Signed bytes made unsigned by adding 128, which the offset -128 s takes back.
INLINE group16 group_q8_0(const uint8_t *block, const size_t *at, __m512i lanes) {
    group16 g;
    transpose16(block + 2, at, g.w);
    transpose16(block + 18, at, g.w + 4);
    UNROLL for (int s = 0; s < 8; s++) g.w[s] = _mm512_xor_si512(g.w[s], _mm512_set1_epi8((char)0x80));
    zero_point_scales(&g, block, lanes, 128);
    return g;
}

INLINE __m512i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/// `count` (1 to 16) rows from `row` against `TB` tokens. Each token's sums run in its own registers
/// in block order, so its result does not depend on the tokens or rows beside it.
INLINE void group_tile(group16 (*decode)(const uint8_t *, const size_t *, __m512i), int block_bytes, int TB,
                       const uint8_t *row, size_t row_bytes, int count, int n, split_tokens k, float *out,
                       size_t out_stride) {
    size_t at[16];
    UNROLL for (int j = 0; j < 16; j++) at[j] = (size_t)(j < count ? j : count - 1) * row_bytes;
    __m512i lanes = _mm512_permutexvar_epi32(group_order(), _mm512_setr_epi32(at[0], at[1], at[2], at[3], at[4], at[5],
        at[6], at[7], at[8], at[9], at[10], at[11], at[12], at[13], at[14], at[15]));
    int nb = n / 32;
    const uint8_t *ahead = row + 16 * groups_ahead * row_bytes;
    int lines_per_block = (int)((16 * row_bytes + 63) / 64 + nb - 1) / nb;
    __m512 acc[4];
    UNROLL for (int t = 0; t < TB; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        for (int i = 0; i < lines_per_block; i++) _mm_prefetch((const char *)ahead + 64 * (lines_per_block * b + i), _MM_HINT_T1);
        group16 g = decode(row + block_bytes * (size_t)b, at, lanes);
        UNROLL for (int t = 0; t < TB; t++) {
            const int8_t *h = k.hi + (size_t)t * n + 32 * (size_t)b, *l = k.lo + (size_t)t * n + 32 * (size_t)b;
            // Two chains each for the high and low bytes, to halve the latency of one token's block.
            __m512i h0 = _mm512_setzero_si512(), h1 = h0, l0 = h0, l1 = h0;
            UNROLL for (int s = 0; s < 8; s += 2) {
                h0 = _mm512_dpbusd_epi32(h0, g.w[s], broadcast4(h + 4 * s));
                h1 = _mm512_dpbusd_epi32(h1, g.w[s + 1], broadcast4(h + 4 * s + 4));
                l0 = _mm512_dpbusd_epi32(l0, g.w[s], broadcast4(l + 4 * s));
                l1 = _mm512_dpbusd_epi32(l1, g.w[s + 1], broadcast4(l + 4 * s + 4));
            }
            __m512i sum = _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(h0, h1), 8), _mm512_add_epi32(l0, l1));
            __m512 scale = _mm512_mul_ps(g.s, _mm512_set1_ps(k.pair_scales[(size_t)t * (n / 4) + 8 * (size_t)b]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), scale, acc[t]);
            acc[t] = _mm512_fmadd_ps(g.m, _mm512_set1_ps(k.grouped_sums[4 * (size_t)b + k.lane + t]), acc[t]);
        }
    }
    __mmask16 valid = (__mmask16)((1u << count) - 1);
    UNROLL for (int t = 0; t < TB; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * out_stride, valid, _mm512_permutexvar_ps(group_order(), acc[t]));
}

/// As `split_dot`, 16 rows at a time.
INLINE void group_dot(group16 (*decode)(const uint8_t *, const size_t *, __m512i), int block_bytes, const void *weights,
                      size_t row_bytes, int rows, int n, const int8_t *hi, const int8_t *lo, const float *pair_scales,
                      const float *grouped_sums, int tokens, float *out, size_t out_stride) {
    // The first groups' lines at once: each tile prefetches a group ahead of it, not its own.
    size_t first_bytes = (size_t)(rows < 16 * groups_ahead ? rows : 16 * groups_ahead) * row_bytes;
    for (size_t at = 0; at < first_bytes; at += 64) _mm_prefetch((const char *)weights + at, _MM_HINT_T1);
    for (int t = 0; t < tokens;) {
        split_tokens k = split_tokens_at(t, tokens, n, hi, lo, pair_scales, grouped_sums, out, out_stride);
        for (int r = 0; r < rows; r += 16) {
            const uint8_t *row = (const uint8_t *)weights + r * row_bytes;
            int count = rows - r < 16 ? rows - r : 16;
            if (k.count == 4) group_tile(decode, block_bytes, 4, row, row_bytes, count, n, k, k.out + r, out_stride);
            else if (k.count == 2) group_tile(decode, block_bytes, 2, row, row_bytes, count, n, k, k.out + r, out_stride);
            else group_tile(decode, block_bytes, 1, row, row_bytes, count, n, k, k.out + r, out_stride);
        }
        t += k.count;
    }
}

#define GROUP(type, block_bytes)                                                                                   \
    void ek_##type##_split_dot_avx512(const void *w, size_t row_bytes, int rows, int n, const int8_t *hi,          \
                                      const int8_t *lo, const float *pair_scales, const float *grouped_sums,       \
                                      int tokens, float *out, size_t out_stride) {                                 \
        group_dot(group_##type, block_bytes, w, row_bytes, rows, n, hi, lo, pair_scales, grouped_sums, tokens, out, \
                  out_stride);                                                                                     \
    }

GROUP(q4_0, 18)
GROUP(q4_1, 20)
GROUP(q8_0, 34)

INLINE void quantized_to_float(block32 (*decode)(const uint8_t *, int), const void *weights, size_t row_bytes,
                               int rows, int n, float *out) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)weights + (size_t)r * row_bytes;
        float *o = out + (size_t)r * n;
        for (int b = 0; b < n / 32; b++) {
            block32 block = decode(row, b);
            __m512 s = _mm512_set1_ps(block.s), m = _mm512_set1_ps(block.m);
            __m512 low = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(block.w)));
            __m512 high = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(block.w, 1)));
            _mm512_storeu_ps(o + 32 * b, _mm512_fmadd_ps(low, s, m));
            _mm512_storeu_ps(o + 32 * b + 16, _mm512_fmadd_ps(high, s, m));
        }
    }
}

#define QUANTIZED(type, has_min)                                                                                  \
    void ek_##type##_dot_avx512(const void *w, size_t row_bytes, int rows, int n, const int16_t *q, const float *d, \
                                const float *s, int tokens, float *out, size_t out_stride) {                      \
        quantized_dot(decode_##type, has_min, w, row_bytes, rows, n, q, d, s, tokens, out, out_stride);           \
    }                                                                                                             \
    void ek_##type##_to_float_avx512(const void *w, size_t row_bytes, int rows, int n, float *out) {              \
        quantized_to_float(decode_##type, w, row_bytes, rows, n, out);                                            \
    }

QUANTIZED(q8_0, 0)
QUANTIZED(q4_0, 0)
QUANTIZED(q4_1, 1)
QUANTIZED(q5_0, 0)
QUANTIZED(q5_1, 1)
QUANTIZED(q4_K, 1)
QUANTIZED(q5_K, 1)
QUANTIZED(q6_K, 0)

// Float weights: 16 elements widened to float per step.
INLINE __m512 load_f32(const uint8_t *p, int k) { return _mm512_loadu_ps((const float *)p + k); }
INLINE __m512 load_f16(const uint8_t *p, int k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + k)));
}
INLINE __m512 load_bf16(const uint8_t *p, int k) {
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
INLINE float scalar_f32(const uint8_t *p, int k) { return ((const float *)p)[k]; }
INLINE float scalar_f16(const uint8_t *p, int k) { return half(p + 2 * (size_t)k); }
INLINE float scalar_bf16(const uint8_t *p, int k) {
    uint32_t bits = (uint32_t)ek_u16(p + 2 * (size_t)k) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

INLINE void float_to_float(__m512 (*load)(const uint8_t *, int), float (*scalar)(const uint8_t *, int),
                           const void *weights, size_t row_bytes, int rows, int n, float *out) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)weights + (size_t)r * row_bytes;
        int k = 0;
        for (; k + 16 <= n; k += 16) _mm512_storeu_ps(out + (size_t)r * n + k, load(row, k));
        for (; k < n; k++) out[(size_t)r * n + k] = scalar(row, k);
    }
}

// Float weights have no dot product here: streaming them from memory, the AVX2 one is as fast (the
// backend uses it at this level too); they are expanded for the GEMM.
#define FLOAT(type)                                                                                                \
    void ek_##type##_to_float_avx512(const void *w, size_t row_bytes, int rows, int n, float *out) {               \
        float_to_float(load_##type, scalar_##type, w, row_bytes, rows, n, out);                                    \
    }

FLOAT(f32)
FLOAT(f16)
FLOAT(bf16)

void ek_gemm_avx512(const float *w, int rows, int n, const float *xt, size_t xt_stride, int tokens, float *out,
                    size_t out_stride) {
    enum { MR = ek_gemm_rows_avx512, NR = ek_gemm_tokens_avx512 };
    for (int r0 = 0; r0 < rows; r0 += MR) {
        const float *wr = w + (size_t)r0 * n;
        for (int t0 = 0; t0 < tokens; t0 += NR) {
            __m512 acc[MR][2];
            UNROLL for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
            const float *x = xt + t0;
            for (int k = 0; k < n; k++) {
                __m512 x0 = _mm512_loadu_ps(x + (size_t)k * xt_stride), x1 = _mm512_loadu_ps(x + (size_t)k * xt_stride + 16);
                UNROLL for (int i = 0; i < MR; i++) {
                    __m512 weight = _mm512_set1_ps(wr[(size_t)i * n + k]);
                    acc[i][0] = _mm512_fmadd_ps(x0, weight, acc[i][0]);
                    acc[i][1] = _mm512_fmadd_ps(x1, weight, acc[i][1]);
                }
            }
            int valid_rows = rows - r0 < MR ? rows - r0 : MR, valid_tokens = tokens - t0 < NR ? tokens - t0 : NR;
            for (int i = 0; i < valid_rows; i++) {
                float lanes[NR];
                _mm512_storeu_ps(lanes, acc[i][0]);
                _mm512_storeu_ps(lanes + 16, acc[i][1]);
                for (int t = 0; t < valid_tokens; t++) out[(size_t)(t0 + t) * out_stride + r0 + i] = lanes[t];
            }
        }
    }
}

#pragma clang attribute pop

#endif
