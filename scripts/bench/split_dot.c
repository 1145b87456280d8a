// The AVX-512 dots on split activation planes (vpdpbusd on the two signed-byte halves of 16-bit
// activation quants; for Q4_1 and Q8_0 the row-group dot) against the 16-bit dot (vpmaddwd), on random
// weights and activations: a 576-wide matrix of 1536 rows (fits L2, as SmolLM2's FFN) and of 49152
// rows (streams from memory, as its output matrix), for 1 to 4 tokens; best of 5 runs each. Build and
// run from the repository root:
//
//     clang -O2 -ISources/CEmberKernels/include -ISources/CEmberKernels scripts/bench/split_dot.c \
//         Sources/CEmberKernels/avx512.c Sources/CEmberKernels/cpu.c -o /tmp/split_dot && /tmp/split_dot

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "EmberKernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    const char *name;
    int block_bytes;
    ek_quantized_dot dot16;
    ek_split_dot split;
} weight_type;

static void measure(weight_type type, int rows, int tokens, int iterations) {
    enum { n = 576 };
    size_t row_bytes = n / 32 * (size_t)type.block_bytes;
    uint8_t *w = malloc(row_bytes * rows);
    for (size_t i = 0; i < row_bytes * rows; i++) w[i] = (uint8_t)rand();
    for (size_t b = 0; b < (size_t)rows * n / 32; b++) {  // f16 scale (and min) 1.0
        uint16_t one = 0x3c00;
        memcpy(w + b * type.block_bytes, &one, 2);
        if (type.block_bytes == 20) memcpy(w + b * type.block_bytes + 2, &one, 2);
    }
    int16_t *q = malloc(2 * n * tokens);
    int8_t *hi = malloc(n * tokens), *lo = malloc(n * tokens);
    float *ones = malloc(4 * n * tokens), *out = malloc(4 * (size_t)rows * tokens);
    for (int i = 0; i < n * tokens; i++) {
        q[i] = (int16_t)(rand() % 65279 - 32639);
        hi[i] = (int8_t)((q[i] + 128) >> 8);
        lo[i] = (int8_t)(q[i] - hi[i] * 256);
        ones[i] = 1;
    }
    double best16 = 1e9, best8 = 1e9;
    for (int run = 0; run < 5; run++) {
        double start = now();
        for (int i = 0; i < iterations; i++) type.dot16(w, row_bytes, rows, n, q, ones, ones, tokens, out, rows);
        double middle = now();
        for (int i = 0; i < iterations; i++) type.split(w, row_bytes, rows, n, hi, lo, ones, ones, tokens, out, rows);
        double end = now();
        if (middle - start < best16) best16 = middle - start;
        if (end - middle < best8) best8 = end - middle;
    }
    printf("%s %6d rows x %d tokens: 16-bit dot %.3f ms, split planes %.3f ms: %.2fx\n", type.name, rows, tokens,
           best16 / iterations * 1e3, best8 / iterations * 1e3, best16 / best8);
    free(w), free(q), free(hi), free(lo), free(ones), free(out);
}

int main(void) {
    weight_type types[] = {{"Q4_1", 20, ek_q4_1_dot_avx512, ek_q4_1_split_dot_avx512},
                           {"Q8_0", 34, ek_q8_0_dot_avx512, ek_q8_0_split_dot_avx512}};
    for (int k = 0; k < 2; k++) {
        for (int tokens = 1; tokens <= 4; tokens++) {
            measure(types[k], 1536, tokens, 1000);
            measure(types[k], 49152, tokens, 20);
        }
    }
    return 0;
}
