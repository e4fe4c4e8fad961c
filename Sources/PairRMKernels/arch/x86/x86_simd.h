// Shared by the x86 variants. SIMD code is enabled per function with target attributes instead of
// -m flags, so the package builds one binary that runs on any x86-64: dispatch.c installs these
// functions only after cpuid (and xgetbv for the OS-saved vector state) says the CPU has them.
#ifndef PRM_X86_SIMD_H
#define PRM_X86_SIMD_H

#include "../../internal/kernel_common.h"
#include <immintrin.h>

// A build may predefine the target attributes (and PRM_ROUNDED, kernel_common.h): a test build
// whose intrinsics are portable C (Tools/kernels/test_x86_emulated.sh) defines them empty so that
// no AVX instruction is emitted.
#ifndef PRM_TARGET_AVX2
#define PRM_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif
#ifndef PRM_TARGET_AVX512
#define PRM_TARGET_AVX512 \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#endif

// Mask of the first `count` (0..8) lanes, for maskload/maskstore.
PRM_INLINE PRM_TARGET_AVX2 __m256i prm_first_lanes(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Rows of int16 activations → the pair order of the Q8_P16B32 tiles: per group of 4,
// (x[4g], x[4g+2], x[4g+1], x[4g+3]), so the even and odd pairs are one 32-bit broadcast each.
// kp is a multiple of 32 (16 elements per step). Used by the AVX2 and AVX-512 kernels.
PRM_TARGET_AVX2 static inline void prm_q16_pair_order(const int16_t *q, int64_t ldq, int64_t rows, int64_t kp,
                                                      int16_t *out) {
    const __m256i order = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,
                                           0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < kp; j += 16) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + r * ldq + j));
            _mm256_storeu_si256((__m256i *)(out + r * kp + j), _mm256_shuffle_epi8(v, order));
        }
}

#endif
