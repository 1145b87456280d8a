// Attention over an F16 or Q8_0 KV cache with AVX2, FMA and F16C, for both x86 levels (the
// AVX-512 level runs these too). Each kernel's body is written once over `load8`, which widens eight
// cached elements of a position to floats, and is compiled once per element kind. Two kernels, each
// for the queries of one KV head's group over that head's positions:
//  - decode (`ek_attend_avx2`): one token's queries; the scores of four positions and three
//    queries at a time, each key chunk widened once for the three, then the softmax over the whole
//    span, then the values a slice of 32 dimensions at a time (each position's slice one cache line);
//  - prefill (`ek_flash_attend_avx2`, flash attention): up to `EK_FLASH_TOKENS` consecutive
//    tokens' queries against blocks of `EK_FLASH_KEYS` positions: each block's keys are widened and
//    transposed once for all of them, scores and weighted values are register-tiled products, and an
//    online softmax carries the maximum and sum from block to block, so no score row of a whole
//    context is ever stored.

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>

#include "EmberKernels.h"

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

INLINE __m256 load_half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/// Bytes of one position of a head: `head_dim` elements of `kind`.
INLINE size_t row_bytes(int kind, int head_dim) {
    switch (kind) {
    case EK_CACHE_Q8_0: return (size_t)head_dim / 32 * 34;
    default: return (size_t)head_dim * 2;
    }
}

INLINE float half_at(const uint8_t *p) {
    uint16_t bits;
    __builtin_memcpy(&bits, p, 2);
    return _cvtsh_ss(bits);
}

/// Elements of `kind` that share a scale: a block of 32, or a chunk of 8 for F16, which has none. Loops
/// go a block at a time, so that each block's scale is read once.
INLINE int block_elements(int kind) { return kind == EK_CACHE_F16 ? 8 : 32; }

/// The scale of the block holding element c of the position at `row`, in every lane (0 for F16).
INLINE __m256 block_scale(int kind, const uint8_t *row, int c) {
    switch (kind) {
    case EK_CACHE_Q8_0: return _mm256_set1_ps(half_at(row + (size_t)(c >> 5) * 34));
    default: return _mm256_setzero_ps();
    }
}

/// Elements c ..< c + 8 (c a multiple of 8) of the position at `row`, as floats, before their block's
/// scale. A Q8_0 block is an F16 scale and 32 signed bytes (ggml's layout).
INLINE __m256 load8_unscaled(int kind, const uint8_t *row, int c) {
    if (kind == EK_CACHE_F16) return load_half8((const uint16_t *)row + c);
    __m128i q = _mm_loadl_epi64((const __m128i *)(row + (size_t)(c >> 5) * 34 + 2 + (c & 31)));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

/// The same, times their block's scale.
INLINE __m256 load8_scaled(int kind, const uint8_t *row, int c, __m256 scale) {
    return kind == EK_CACHE_F16 ? load_half8((const uint16_t *)row + c) : _mm256_mul_ps(load8_unscaled(kind, row, c), scale);
}

INLINE __m256 load8(int kind, const uint8_t *row, int c) { return load8_scaled(kind, row, c, block_scale(kind, row, c)); }

INLINE float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

INLINE float max8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/// e^x, as the Swift `exp(SIMD8<Float>)` of VectorMath.swift: Cephes' expf, 0 below -87.3.
INLINE __m256 exp8(__m256 x) {
    const __m256 low = _mm256_set1_ps(-87.3f), magic = _mm256_set1_ps(0x1.8p23f);
    __m256 underflow = _mm256_cmp_ps(x, low, _CMP_LT_OQ);
    __m256 c = _mm256_min_ps(_mm256_max_ps(x, low), _mm256_set1_ps(88.7f));
    __m256 shifted = _mm256_fmadd_ps(c, _mm256_set1_ps(1.44269504f), magic);
    __m256 n = _mm256_sub_ps(shifted, magic);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), c);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic)),
                                                   _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

/// The sums of four vectors, in one.
INLINE __m128 sum4x8(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// MARK: - Decode

/// Scores of G queries (G <= 3) against four positions: each key chunk widened once for all G.
INLINE void scores4(int kind, int G, const float *q, int head_dim, const uint8_t *k, float scale, float *out, int stride) {
    size_t rb = row_bytes(kind, head_dim);
    __m256 a[3][4];
    UNROLL for (int g = 0; g < G; g++) UNROLL for (int j = 0; j < 4; j++) a[g][j] = _mm256_setzero_ps();
    for (int c0 = 0; c0 < head_dim; c0 += block_elements(kind)) {
        __m256 d0 = block_scale(kind, k, c0), d1 = block_scale(kind, k + rb, c0);
        __m256 d2 = block_scale(kind, k + 2 * rb, c0), d3 = block_scale(kind, k + 3 * rb, c0);
        UNROLL for (int c = c0; c < c0 + block_elements(kind); c += 8) {
            __m256 k0 = load8_scaled(kind, k, c, d0), k1 = load8_scaled(kind, k + rb, c, d1);
            __m256 k2 = load8_scaled(kind, k + 2 * rb, c, d2), k3 = load8_scaled(kind, k + 3 * rb, c, d3);
            UNROLL for (int g = 0; g < G; g++) {
                __m256 qv = _mm256_loadu_ps(q + g * head_dim + c);
                a[g][0] = _mm256_fmadd_ps(qv, k0, a[g][0]);
                a[g][1] = _mm256_fmadd_ps(qv, k1, a[g][1]);
                a[g][2] = _mm256_fmadd_ps(qv, k2, a[g][2]);
                a[g][3] = _mm256_fmadd_ps(qv, k3, a[g][3]);
            }
        }
    }
    UNROLL for (int g = 0; g < G; g++) {
        _mm_storeu_ps(out + g * stride, _mm_mul_ps(sum4x8(a[g][0], a[g][1], a[g][2], a[g][3]), _mm_set1_ps(scale)));
    }
}

/// acc[g][0 ..< width] += sum over positions of weight[g][p] * value[p][offset ..< offset + width], for G
/// queries (G <= 3) and a slice of width <= 32 (a multiple of 8).
INLINE void weighted_values(int kind, int G, int width, const float *weights, int stride, const uint8_t *values, int head_dim,
                            int offset, int count, float *acc) {
    size_t rb = row_bytes(kind, head_dim);
    __m256 a[3][4];
    UNROLL for (int g = 0; g < G; g++) UNROLL for (int c = 0; c < 4; c++) a[g][c] = _mm256_setzero_ps();
    for (int p = 0; p < count; p++) {
        const uint8_t *v = values + (size_t)p * rb;
        // A slice is one block of Q8_0: its scale goes into the weights.
        __m256 w[3], scale = block_scale(kind, v, offset);
        UNROLL for (int g = 0; g < G; g++) {
            w[g] = _mm256_broadcast_ss(weights + g * stride + p);
            if (kind != EK_CACHE_F16) w[g] = _mm256_mul_ps(w[g], scale);
        }
        UNROLL for (int c = 0; c < 4; c++) {
            if (8 * c < width) {
                __m256 vc = load8_unscaled(kind, v, offset + 8 * c);
                UNROLL for (int g = 0; g < G; g++) a[g][c] = _mm256_fmadd_ps(w[g], vc, a[g][c]);
            }
        }
    }
    UNROLL for (int g = 0; g < G; g++) {
        UNROLL for (int c = 0; c < 4; c++) {
            if (8 * c < width) _mm256_storeu_ps(acc + g * head_dim + offset + 8 * c, a[g][c]);
        }
    }
}

INLINE void attend(int kind, const float *q, int group, int head_dim, const uint8_t *keys, const uint8_t *values, int count,
                   float scale, float *state, float *scores) {
    size_t rb = row_bytes(kind, head_dim);
    float *maxima = state, *sums = state + group, *acc = state + 2 * group;
    // Scores, four positions and up to three queries at a time.
    for (int g0 = 0; g0 < group; g0 += 3) {
        int G = group - g0 < 3 ? group - g0 : 3;
        const float *qg = q + (size_t)g0 * head_dim;
        float *out = scores + (size_t)g0 * count;
        int p = 0;
        for (; p + 4 <= count; p += 4) {
            const uint8_t *k = keys + (size_t)p * rb;
            if (G == 3) scores4(kind, 3, qg, head_dim, k, scale, out + p, count);
            else if (G == 2) scores4(kind, 2, qg, head_dim, k, scale, out + p, count);
            else scores4(kind, 1, qg, head_dim, k, scale, out + p, count);
        }
        for (; p < count; p++) {
            for (int g = 0; g < G; g++) {
                __m256 a = _mm256_setzero_ps();
                for (int c = 0; c < head_dim; c += 8)
                    a = _mm256_fmadd_ps(_mm256_loadu_ps(qg + g * head_dim + c), load8(kind, keys + (size_t)p * rb, c), a);
                out[g * count + p] = sum8(a) * scale;
            }
        }
    }
    // The softmax weights exp(score - maximum), in place, with their sums.
    for (int g = 0; g < group; g++) {
        float *s = scores + (size_t)g * count;
        __m256 m = _mm256_set1_ps(-INFINITY);
        int p = 0;
        for (; p + 8 <= count; p += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(s + p));
        float maximum = max8(m);
        for (; p < count; p++) maximum = s[p] > maximum ? s[p] : maximum;
        __m256 total = _mm256_setzero_ps(), shift = _mm256_set1_ps(maximum);
        for (p = 0; p + 8 <= count; p += 8) {
            __m256 w = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), shift));
            _mm256_storeu_ps(s + p, w);
            total = _mm256_add_ps(total, w);
        }
        float sum = sum8(total);
        if (p < count) {
            float tail[8] = {0};
            for (int i = p; i < count; i++) tail[i - p] = s[i];
            __m256 w = exp8(_mm256_sub_ps(_mm256_loadu_ps(tail), shift));
            _mm256_storeu_ps(tail, w);
            for (int i = p; i < count; i++) {
                s[i] = tail[i - p];
                sum += tail[i - p];
            }
        }
        maxima[g] = maximum;
        sums[g] = sum;
    }
    // The weighted values, a slice of up to 32 dimensions and three queries at a time.
    for (int offset = 0; offset < head_dim; offset += 32) {
        int width = head_dim - offset < 32 ? head_dim - offset : 32;
        for (int g0 = 0; g0 < group; g0 += 3) {
            int G = group - g0 < 3 ? group - g0 : 3;
            const float *w = scores + (size_t)g0 * count;
            float *a = acc + (size_t)g0 * head_dim;
            if (G == 3) weighted_values(kind, 3, width, w, count, values, head_dim, offset, count, a);
            else if (G == 2) weighted_values(kind, 2, width, w, count, values, head_dim, offset, count, a);
            else weighted_values(kind, 1, width, w, count, values, head_dim, offset, count, a);
        }
    }
}

void ek_attend_avx2(int kind, const float *q, int group, int head_dim, const void *keys, const void *values, int count, float scale,
                    float *state, float *scores) {
    if (kind == EK_CACHE_Q8_0) attend(EK_CACHE_Q8_0, q, group, head_dim, keys, values, count, scale, state, scores);
    else attend(EK_CACHE_F16, q, group, head_dim, keys, values, count, scale, state, scores);
}

// MARK: - Prefill (flash attention)

enum { ROW_TILE = 6 };

/// The scratch of `ek_flash_attend_avx2`, in floats, for one call.
size_t ek_flash_scratch_floats(int group, int head_dim) {
    size_t rows = ((size_t)EK_FLASH_TOKENS * group + ROW_TILE - 1) / ROW_TILE * ROW_TILE;
    return rows * (2 * (size_t)head_dim + EK_FLASH_KEYS + 2) + 2 * (size_t)head_dim * EK_FLASH_KEYS;
}

/// Rows `r0 ..< r0 + 6` of c (stride `c_stride`) = a (6 rows, stride `a_stride`, `depth` long) times b
/// (`depth` rows of 16 columns, stride `b_stride`); with `accumulate`, added to what c holds.
INLINE void tile6x16(const float *a, int a_stride, const float *b, int b_stride, int depth, float *c, int c_stride,
                     int accumulate) {
    __m256 acc[ROW_TILE][2];
    UNROLL for (int i = 0; i < ROW_TILE; i++) {
        acc[i][0] = accumulate ? _mm256_loadu_ps(c + i * c_stride) : _mm256_setzero_ps();
        acc[i][1] = accumulate ? _mm256_loadu_ps(c + i * c_stride + 8) : _mm256_setzero_ps();
    }
    for (int k = 0; k < depth; k++) {
        __m256 b0 = _mm256_loadu_ps(b + (size_t)k * b_stride), b1 = _mm256_loadu_ps(b + (size_t)k * b_stride + 8);
        UNROLL for (int i = 0; i < ROW_TILE; i++) {
            __m256 x = _mm256_broadcast_ss(a + i * a_stride + k);
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    UNROLL for (int i = 0; i < ROW_TILE; i++) {
        _mm256_storeu_ps(c + i * c_stride, acc[i][0]);
        _mm256_storeu_ps(c + i * c_stride + 8, acc[i][1]);
    }
}

/// Eight rows of eight floats transposed: out[i][j] = in[j][i] (row strides in floats).
INLINE void transpose8(__m256 r[8], float *out, int out_stride) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(out + 0 * out_stride, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(out + 1 * out_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(out + 2 * out_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(out + 3 * out_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(out + 4 * out_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(out + 5 * out_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(out + 6 * out_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(out + 7 * out_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

INLINE void flash_attend(int kind, const float *q, size_t q_stride, int group, int head_dim, int tokens, int start,
                         const uint8_t *keys, const uint8_t *values, float scale, float *out, size_t out_stride, float *scratch) {
    enum { BK = EK_FLASH_KEYS };
    size_t rb = row_bytes(kind, head_dim);
    int R = tokens * group, rows = (R + ROW_TILE - 1) / ROW_TILE * ROW_TILE;
    // Scratch: scaled queries and outputs (rows x head_dim), scores (rows x BK), maxima and sums (rows),
    // the block's keys transposed (head_dim x BK) and its values (BK x head_dim).
    float *qs = scratch, *o = qs + (size_t)rows * head_dim, *s = o + (size_t)rows * head_dim;
    float *maxima = s + (size_t)rows * BK, *sums = maxima + rows;
    float *kt = sums + rows, *vb = kt + (size_t)head_dim * BK;

    for (int r = 0; r < rows; r++) {
        const float *src = q + (size_t)(r / group) * q_stride + (size_t)(r % group) * head_dim;
        for (int d = 0; d < head_dim; d += 8) {
            __m256 x = r < R ? _mm256_mul_ps(_mm256_loadu_ps(src + d), _mm256_set1_ps(scale)) : _mm256_setzero_ps();
            _mm256_storeu_ps(qs + (size_t)r * head_dim + d, x);
            _mm256_storeu_ps(o + (size_t)r * head_dim + d, _mm256_setzero_ps());
        }
        maxima[r] = -INFINITY;
        sums[r] = 0;
    }

    int last = start + tokens - 1;
    for (int kb = 0; kb <= last; kb += BK) {
        int n = last + 1 - kb < BK ? last + 1 - kb : BK;
        // The block's keys, widened and transposed 8 x 8 at a time (positions past n are zero), and its
        // values widened (zero past n: their weights are 0, and 0 times a stale NaN would not be).
        for (int j0 = 0; j0 < BK; j0 += 8) {
            for (int d0 = 0; d0 < head_dim; d0 += 8) {
                __m256 r8[8];
                UNROLL for (int j = 0; j < 8; j++) {
                    r8[j] = j0 + j < n ? load8(kind, keys + (size_t)(kb + j0 + j) * rb, d0) : _mm256_setzero_ps();
                }
                transpose8(r8, kt + (size_t)d0 * BK + j0, BK);
            }
        }
        for (int j = 0; j < BK; j++) {
            for (int d = 0; d < head_dim; d += 8) {
                _mm256_storeu_ps(vb + (size_t)j * head_dim + d,
                                 j < n ? load8(kind, values + (size_t)(kb + j) * rb, d) : _mm256_setzero_ps());
            }
        }
        // Scores of every row against the block.
        for (int r0 = 0; r0 < rows; r0 += ROW_TILE) {
            for (int j0 = 0; j0 < BK; j0 += 16) tile6x16(qs + (size_t)r0 * head_dim, head_dim, kt + j0, BK, head_dim, s + (size_t)r0 * BK + j0, BK, 0);
        }
        // Causal mask and online softmax, row by row: weights in place of the scores.
        for (int r = 0; r < R; r++) {
            float *row = s + (size_t)r * BK;
            int visible = start + r / group - kb + 1;  // positions of the block this row sees
            if (visible > n) visible = n;
            if (visible < 0) visible = 0;
            for (int j = visible; j < BK; j++) row[j] = -INFINITY;
            __m256 m = _mm256_loadu_ps(row);
            for (int j = 8; j < BK; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(row + j));
            float block_max = max8(m), previous = maxima[r];
            float maximum = block_max > previous ? block_max : previous;
            __m256 shift = _mm256_set1_ps(maximum), total = _mm256_setzero_ps();
            for (int j = 0; j < BK; j += 8) {
                __m256 w = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), shift));
                _mm256_storeu_ps(row + j, w);
                total = _mm256_add_ps(total, w);
            }
            if (maximum > previous) {
                float correction = previous == -INFINITY ? 0 : _mm256_cvtss_f32(exp8(_mm256_set1_ps(previous - maximum)));
                sums[r] *= correction;
                __m256 c = _mm256_set1_ps(correction);
                for (int d = 0; d < head_dim; d += 8) {
                    _mm256_storeu_ps(o + (size_t)r * head_dim + d, _mm256_mul_ps(c, _mm256_loadu_ps(o + (size_t)r * head_dim + d)));
                }
                maxima[r] = maximum;
            }
            sums[r] += sum8(total);
        }
        // Weighted values into the outputs.
        for (int r0 = 0; r0 < rows; r0 += ROW_TILE) {
            for (int d0 = 0; d0 < head_dim; d0 += 16) tile6x16(s + (size_t)r0 * BK, BK, vb + d0, head_dim, n, o + (size_t)r0 * head_dim + d0, head_dim, 1);
        }
    }

    for (int r = 0; r < R; r++) {
        float *dst = out + (size_t)(r / group) * out_stride + (size_t)(r % group) * head_dim;
        __m256 normaliser = _mm256_set1_ps(1 / sums[r]);
        for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(dst + d, _mm256_mul_ps(normaliser, _mm256_loadu_ps(o + (size_t)r * head_dim + d)));
    }
}

void ek_flash_attend_avx2(int kind, const float *q, size_t q_stride, int group, int head_dim, int tokens, int start, const void *keys,
                          const void *values, float scale, float *out, size_t out_stride, float *scratch) {
    if (kind == EK_CACHE_Q8_0) flash_attend(EK_CACHE_Q8_0, q, q_stride, group, head_dim, tokens, start, keys, values, scale, out, out_stride, scratch);
    else flash_attend(EK_CACHE_F16, q, q_stride, group, head_dim, tokens, start, keys, values, scale, out, out_stride, scratch);
}

#pragma clang attribute pop

#endif
