// Test-only: the x86 intrinsics for emulated builds of the kernels (test_x86_emulated.sh). SIMDe
// implements them in portable C; the few the packaged SIMDe version lacks are written out here.
//
// The kernel sources know nothing of this file. The emulated build force-includes it in every
// translation unit (-include) and puts Tools/kernels/emulated_x86 first on the include path, whose
// stand-in <immintrin.h> keeps the compiler's real one (and its conflicting types) out. Before any
// kernel header is read, it sets the hooks those headers leave open:
//   PRM_TARGET_AVX2 / PRM_TARGET_AVX512  empty: no AVX instruction may be emitted (arch/x86/x86_simd.h)
//   PRM_ROUNDED(v)                       (v): SIMDe's vectors are not register types; the build uses
//                                        -ffp-contract=off instead (internal/kernel_common.h)
//   PRM_EMULATE_X86_SIMD                 kernel_selftest.c tests the x86 variants whatever the CPU
#ifndef PRM_SIMDE_SHIM_H
#define PRM_SIMDE_SHIM_H
#define PRM_EMULATE_X86_SIMD 1
#define PRM_TARGET_AVX2
#define PRM_TARGET_AVX512
#define PRM_ROUNDED(v) (v)

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/fma.h>
#include <simde/x86/f16c.h>
#include <math.h>
#include <string.h>

typedef simde__mmask8 __mmask8;
typedef simde__mmask16 __mmask16;
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#define _MM_FROUND_TO_ZERO SIMDE_MM_FROUND_TO_ZERO
#define _MM_FROUND_TO_NEAREST_INT SIMDE_MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEG_INF SIMDE_MM_FROUND_TO_NEG_INF
#endif

#define PRM_SHIM_LANES(type, vec, lanes) type lanes[sizeof(vec) / sizeof(type)]; memcpy(lanes, &(vec), sizeof(vec))
#define PRM_SHIM_N(lanes) (int)(sizeof(lanes) / sizeof((lanes)[0]))

// SIMDe 0.7.4 misreads the immediate (it rounds to 1/8 for _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC).
#undef _mm512_roundscale_ps
static inline __m512 _mm512_roundscale_ps(__m512 v, int imm) {
    PRM_SHIM_LANES(float, v, a);
    for (int i = 0; i < 16; i++) {
        switch ((imm & 4) ? 0 : imm & 3) {
        case 0: a[i] = nearbyintf(a[i]); break;
        case 1: a[i] = floorf(a[i]); break;
        case 2: a[i] = ceilf(a[i]); break;
        default: a[i] = truncf(a[i]); break;
        }
    }
    return _mm512_loadu_ps(a);
}

// SIMDe 0.7.4's portable binary16 conversion leaves a signalling NaN signalling; vcvtph2ps quiets
// it (sets the top mantissa bit, keeps sign and payload). Everything else it converts exactly.
#undef _mm256_cvtph_ps
static inline __m256 _mm256_cvtph_ps(__m128i v) {
    __m256 r = simde_mm256_cvtph_ps(v);
    PRM_SHIM_LANES(uint16_t, v, h);
    PRM_SHIM_LANES(uint32_t, r, bits);
    for (int i = 0; i < 8; i++)
        if ((h[i] & 0x7C00) == 0x7C00 && (h[i] & 0x03FF) != 0) bits[i] |= 0x00400000u;
    memcpy(&r, bits, sizeof r);
    return r;
}

static inline __m512 _mm512_maskz_loadu_ps(__mmask16 k, const void *p) {
    float t[16] = {0};
    for (int i = 0; i < 16; i++) if ((k >> i) & 1) memcpy(&t[i], (const float *)p + i, 4);
    return _mm512_loadu_ps(t);
}
static inline void _mm512_mask_storeu_ps(void *p, __mmask16 k, __m512 v) {
    PRM_SHIM_LANES(float, v, t);
    for (int i = 0; i < 16; i++) if ((k >> i) & 1) memcpy((float *)p + i, &t[i], 4);
}
static inline __m512 _mm512_cvtepi32_ps(__m512i v) {
    PRM_SHIM_LANES(int32_t, v, a);
    float r[16];
    for (int i = 0; i < 16; i++) r[i] = (float)a[i];
    return _mm512_loadu_ps(r);
}
static inline __m512i _mm512_cvttps_epi32(__m512 v) {  // inputs are in range in the kernels
    PRM_SHIM_LANES(float, v, a);
    int32_t r[16];
    for (int i = 0; i < 16; i++) r[i] = (int32_t)a[i];
    return _mm512_loadu_si512(r);
}
static inline __m512i _mm512_cvtps_epi32(__m512 v) {  // round to nearest even
    PRM_SHIM_LANES(float, v, a);
    int32_t r[16];
    for (int i = 0; i < 16; i++) r[i] = (int32_t)nearbyintf(a[i]);
    return _mm512_loadu_si512(r);
}
static inline int32_t _mm512_reduce_add_epi32(__m512i v) {
    PRM_SHIM_LANES(int32_t, v, a);
    int32_t s = 0;
    for (int i = 0; i < 16; i++) s += a[i];
    return s;
}
static inline float _mm512_reduce_max_ps(__m512 v) {
    PRM_SHIM_LANES(float, v, a);
    float s = a[0];
    for (int i = 1; i < 16; i++) s = a[i] > s ? a[i] : s;
    return s;
}

// SIMDe 0.7.4's portable FMAs round the product before the add (mul then add); vfmadd rounds once.
// The int16-activation kernel's block epilogue must equal fmaf bit for bit.
#undef _mm256_fmadd_ps
static inline __m256 _mm256_fmadd_ps(__m256 a, __m256 b, __m256 c) {
    PRM_SHIM_LANES(float, a, x);
    PRM_SHIM_LANES(float, b, y);
    PRM_SHIM_LANES(float, c, z);
    for (int i = 0; i < 8; i++) x[i] = fmaf(x[i], y[i], z[i]);
    return _mm256_loadu_ps(x);
}
#undef _mm512_fmadd_ps
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
    PRM_SHIM_LANES(float, a, x);
    PRM_SHIM_LANES(float, b, y);
    PRM_SHIM_LANES(float, c, z);
    for (int i = 0; i < 16; i++) x[i] = fmaf(x[i], y[i], z[i]);
    return _mm512_loadu_ps(x);
}

#endif
