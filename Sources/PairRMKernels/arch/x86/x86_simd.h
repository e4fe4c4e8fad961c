// Shared by the x86 variants. SIMD code is enabled per function with target attributes instead of
// -m flags, so the package builds one binary that runs on any x86-64: dispatch.c installs these
// functions only after cpuid (and xgetbv for the OS-saved vector state) says the CPU has them.
#ifndef PRM_X86_SIMD_H
#define PRM_X86_SIMD_H

#if defined(PRM_EMULATE_X86_SIMD)
// Test builds only (Tools/kernels/test_x86_emulated.sh): the intrinsics come from SIMDe's portable
// C implementations so the AVX-512 code can be checked on CPUs that do not have AVX-512.
#include "prm_simde_shim.h"
#define PRM_TARGET_AVX2
#define PRM_TARGET_AVX512
#define PRM_ROUNDED(v) (v)  // emulated builds are compiled with -ffp-contract=off
#else
#include <immintrin.h>
#define PRM_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define PRM_TARGET_AVX512 \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
// GCC contracts a separate _mm*_mul_ps and _mm*_add_ps into one FMA (its intrinsics are plain C
// operators and its default is -ffp-contract=fast). Where a kernel must round a product exactly as
// the generic code does, this empty asm makes the rounded product opaque to that optimization.
#define PRM_ROUNDED(v) __extension__({ __typeof__(v) prm_rounded_ = (v); __asm__("" : "+v"(prm_rounded_)); prm_rounded_; })
#endif

// Register-tile helpers take their tile sizes as arguments and must be specialized per call site.
#define PRM_INLINE static inline __attribute__((always_inline))

#endif
