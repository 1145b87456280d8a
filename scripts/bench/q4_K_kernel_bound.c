// How fast can a Q4_K row dot go on this CPU? One thread, a 16384 x 4096 Q4_K matrix (38 MB, random
// blocks) against one activation row, three kernel shapes, GB/s of weights read; `stream` is a plain
// read of the same bytes. Arguments: rows (128 keeps the matrix in cache) and repetitions.
//   clang -O2 -mavx2 -mfma -mf16c -o /tmp/kernel_bound scripts/bench/q4_K_kernel_bound.c && /tmp/kernel_bound
// BENCHMARKS.md ("What bounds K-quant decode on Zen 1") has the figures and what they mean.

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")
INLINE float half(const uint8_t *p) { uint16_t v; memcpy(&v,p,2); return _cvtsh_ss(v); }
INLINE float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
INLINE void unpack(const uint8_t *block, __m256 *scales, __m256 *mins) {
        uint32_t packed[4];
        memcpy(packed, block + 4, 12);
        packed[3] = ((packed[2] >> 4) & 0x0f0f0f0f) | (((packed[1] >> 6) & 0x03030303) << 4);
        uint32_t mins_low = packed[1] & 0x3f3f3f3f;
        packed[1] = (packed[2] & 0x0f0f0f0f) | (((packed[0] >> 6) & 0x03030303) << 4);
        packed[2] = mins_low;
        packed[0] &= 0x3f3f3f3f;
        __m128i bytes = _mm_loadu_si128((const __m128i *)packed);
        *scales = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), _mm256_set1_ps(half(block)));
        *mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8))), _mm256_set1_ps(half(block + 2)));
}
// A: Ember's AVX2 Q4_K dot (avx2.c, q4_K_tile with one token): nibbles widened to int16, vpmaddwd
__attribute__((target("avx2,fma,f16c"),noinline)) float dotA(const uint8_t *row, int nsb, const int16_t *q, const float *d, const float *s) {
    __m256 acc = _mm256_setzero_ps(), offset = _mm256_setzero_ps();
    const __m256i low_mask = _mm256_set1_epi8(0x0F);
    for (int sb = 0; sb < nsb; sb++) {
        const uint8_t *block = row + 144 * (size_t)sb;
        __m256 scales, mins; unpack(block, &scales, &mins);
        __m256 combined = _mm256_mul_ps(scales, _mm256_loadu_ps(d + 8*sb));
        offset = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(s + 8*sb), offset);
        UNROLL for (int pair = 0; pair < 4; pair++) {
            __m256i nibbles = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * pair));
            __m256i low = _mm256_and_si256(nibbles, low_mask), high = _mm256_and_si256(_mm256_srli_epi16(nibbles, 4), low_mask);
            __m256i l0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(low)), l1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(low, 1));
            __m256i h0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(high)), h1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(high, 1));
            const int16_t *a = q + 256 * (size_t)sb + 64 * pair;
            __m256i first = _mm256_add_epi32(_mm256_madd_epi16(l0, _mm256_loadu_si256((const __m256i *)a)), _mm256_madd_epi16(l1, _mm256_loadu_si256((const __m256i *)(a + 16))));
            __m256i second = _mm256_add_epi32(_mm256_madd_epi16(h0, _mm256_loadu_si256((const __m256i *)(a + 32))), _mm256_madd_epi16(h1, _mm256_loadu_si256((const __m256i *)(a + 48))));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(first), _mm256_permutevar8x32_ps(combined, _mm256_set1_epi32(2 * pair)), acc);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(second), _mm256_permutevar8x32_ps(combined, _mm256_set1_epi32(2 * pair + 1)), acc);
        }
    }
    return horizontal_sum(_mm256_add_ps(acc, offset));
}
// B: the same with activations stored evens then odds per 32: nibbles masked in 16-bit lanes, no widening
__attribute__((target("avx2,fma,f16c"),noinline)) float dotB(const uint8_t *row, int nsb, const int16_t *q, const float *d, const float *s) {
    __m256 acc = _mm256_setzero_ps(), offset = _mm256_setzero_ps();
    const __m256i m = _mm256_set1_epi16(0x000F);
    for (int sb = 0; sb < nsb; sb++) {
        const uint8_t *block = row + 144 * (size_t)sb;
        __m256 scales, mins; unpack(block, &scales, &mins);
        __m256 combined = _mm256_mul_ps(scales, _mm256_loadu_ps(d + 8*sb));
        offset = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(s + 8*sb), offset);
        UNROLL for (int pair = 0; pair < 4; pair++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * pair));
            __m256i ae = _mm256_and_si256(v, m), ao = _mm256_and_si256(_mm256_srli_epi16(v, 8), m);
            __m256i be = _mm256_and_si256(_mm256_srli_epi16(v, 4), m), bo = _mm256_srli_epi16(v, 12);
            const int16_t *a = q + 256 * (size_t)sb + 64 * pair;
            __m256i first = _mm256_add_epi32(_mm256_madd_epi16(ae, _mm256_loadu_si256((const __m256i *)a)), _mm256_madd_epi16(ao, _mm256_loadu_si256((const __m256i *)(a + 16))));
            __m256i second = _mm256_add_epi32(_mm256_madd_epi16(be, _mm256_loadu_si256((const __m256i *)(a + 32))), _mm256_madd_epi16(bo, _mm256_loadu_si256((const __m256i *)(a + 48))));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(first), _mm256_permutevar8x32_ps(combined, _mm256_set1_epi32(2 * pair)), acc);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(second), _mm256_permutevar8x32_ps(combined, _mm256_set1_epi32(2 * pair + 1)), acc);
        }
    }
    return horizontal_sum(_mm256_add_ps(acc, offset));
}
// D: llama.cpp's shape (8-bit Q8_K activations): vpmaddubsw, then vpmaddwd with the 6-bit scales
__attribute__((target("avx2,fma,f16c"),noinline)) float dotD(const uint8_t *row, int nsb, const int8_t *q, const float *d, const float *s) {
    __m256 acc = _mm256_setzero_ps(), offset = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int sb = 0; sb < nsb; sb++) {
        const uint8_t *block = row + 144 * (size_t)sb;
        uint32_t packed[4];
        memcpy(packed, block + 4, 12);
        packed[3] = ((packed[2] >> 4) & 0x0f0f0f0f) | (((packed[1] >> 6) & 0x03030303) << 4);
        uint32_t mins_low = packed[1] & 0x3f3f3f3f;
        packed[1] = (packed[2] & 0x0f0f0f0f) | (((packed[0] >> 6) & 0x03030303) << 4);
        packed[2] = mins_low;
        packed[0] &= 0x3f3f3f3f;
        __m128i bytes = _mm_loadu_si128((const __m128i *)packed);
        __m256i sc16 = _mm256_cvtepu8_epi16(bytes);
        __m256 mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8))), _mm256_set1_ps(half(block + 2)));
        offset = _mm256_fnmadd_ps(mins, _mm256_loadu_ps(s + 8*sb), offset);
        __m256i scl = _mm256_permute2x128_si256(sc16, sc16, 0x00);
        __m256i isum = _mm256_setzero_si256();
        UNROLL for (int pair = 0; pair < 4; pair++) {
            __m256i sA = _mm256_shuffle_epi8(scl, _mm256_set1_epi16((short)(0x0100 * (4*pair+1) + 4*pair)));
            __m256i sB = _mm256_shuffle_epi8(scl, _mm256_set1_epi16((short)(0x0100 * (4*pair+3) + 4*pair+2)));
            __m256i v = _mm256_loadu_si256((const __m256i *)(block + 16 + 32 * pair));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const int8_t *a = q + 256 * (size_t)sb + 64 * pair;
            __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)a)), sA);
            __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a+32))), sB);
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(half(block) * d[8*sb]), acc);
    }
    return horizontal_sum(_mm256_add_ps(acc, offset));
}
__attribute__((target("avx2"),noinline)) float stream(const uint8_t *p, size_t n) {
    __m256i a = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 32) a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *)(p + i)));
    return (float)_mm256_extract_epi32(a, 0);
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 16384, n = 4096, nsb = n / 256;
    size_t bytes = (size_t)rows * nsb * 144;
    uint8_t *w = aligned_alloc(64, bytes);
    for (size_t i = 0; i < bytes; i++) w[i] = rand();
    for (int r = 0; r < rows * nsb; r++) { w[144*r] = 0; w[144*r+1] = 0x3c; w[144*r+2]=0; w[144*r+3]=0x30; }
    int16_t *q = malloc(2 * n); int8_t *q8 = malloc(n); float *d = malloc(4 * n / 32), *s = malloc(4 * n / 32);
    for (int i = 0; i < n; i++) { q[i] = (rand() % 65279) - 32639; q8[i] = rand() % 255 - 127; }
    for (int i = 0; i < n / 32; i++) { d[i] = 1e-4; s[i] = 0.01; }
    float *out = malloc(4 * rows);
    int iters = argc > 2 ? atoi(argv[2]) : 1;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now(); float x = stream(w, bytes); double t1 = now();
        printf("stream %.2f GB/s (%g)\n", bytes / (t1 - t0) / 1e9, x);
        const char *names = "ABD";
        for (int v = 0; v < 3; v++) {
            t0 = now();
            for (int it = 0; it < iters; it++) for (int r = 0; r < rows; r++) {
                const uint8_t *row = w + (size_t)r * nsb * 144;
                out[r] = v == 0 ? dotA(row, nsb, q, d, s) : v == 1 ? dotB(row, nsb, q, d, s) : dotD(row, nsb, q8, d, s);
            }
            t1 = now();
            printf("%c %.2f GB/s  ", names[v], iters * bytes / (t1 - t0) / 1e9);
        }
        printf("\n");
    }
}
