// Which kernel level the CPU runs, asked once of cpuid through the compiler's builtins.

#include "EmberKernels.h"

int ek_cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma"))
        return EK_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return EK_LEVEL_AVX2;
#endif
    return EK_LEVEL_PORTABLE;
}

void ek_transpose(const float *x, size_t x_stride, int tokens, int n, float *xt, size_t xt_stride) {
    // In 8 x 8 tiles, so both sides walk cache lines rather than one element per line.
    for (int k0 = 0; k0 < n; k0 += 8) {
        int k1 = k0 + 8 < n ? k0 + 8 : n;
        for (int t0 = 0; t0 < tokens; t0 += 8) {
            int t1 = t0 + 8 < tokens ? t0 + 8 : tokens;
            for (int t = t0; t < t1; t++)
                for (int k = k0; k < k1; k++) xt[(size_t)k * xt_stride + t] = x[(size_t)t * x_stride + k];
        }
        for (int k = k0; k < k1; k++)
            for (size_t t = (size_t)tokens; t < xt_stride; t++) xt[(size_t)k * xt_stride + t] = 0;
    }
}
