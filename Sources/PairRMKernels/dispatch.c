// Chooses the kernel table once from the CPU's features; tests can force any supported variant.
#include "kernel_table.h"
#include <pthread.h>

static prm_kernel_table tables[PRM_ISA_COUNT];
static int table_filled[PRM_ISA_COUNT];
static prm_isa active = PRM_ISA_GENERIC;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

// XCR0: which register state the OS saves on context switches. A CPU feature is usable only if
// the OS saves its registers too (a hypervisor or kernel may enable AVX but not the AVX-512 state).
static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int x86_supports(prm_isa isa) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!(osxsave && avx && fma && f16c)) return 0;
    uint64_t xcr = xcr0();
    if ((xcr & 0x6) != 0x6) return 0;  // SSE + AVX (ymm) state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    if (isa == PRM_ISA_AVX2) return avx2;
    if (isa == PRM_ISA_AVX512_VNNI) {
        int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
        return avx2 && avx512f && avx512bw && avx512vl && vnni && (xcr & 0xE0) == 0xE0;  // opmask + zmm state
    }
    return 0;
}
#endif

#if defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
static int arm_has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
#elif defined(__APPLE__)
#include <sys/sysctl.h>
static int arm_has_dotprod(void) {
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, NULL, 0) == 0 && value;
}
#else
static int arm_has_dotprod(void) { return 0; }
#endif
#endif

int prm_isa_supported(prm_isa isa) {
    switch (isa) {
    case PRM_ISA_GENERIC:
        return 1;
#if defined(__x86_64__) || defined(_M_X64)
    case PRM_ISA_AVX2:
    case PRM_ISA_AVX512_VNNI:
        return x86_supports(isa);
#endif
#if defined(__aarch64__)
    case PRM_ISA_NEON_DOTPROD:
        return arm_has_dotprod();
#endif
    default:
        return 0;
    }
}

prm_isa prm_isa_best(void) {
    for (int isa = PRM_ISA_COUNT - 1; isa > 0; isa--) {
        if (prm_isa_supported((prm_isa)isa)) return (prm_isa)isa;
    }
    return PRM_ISA_GENERIC;
}

// A variant's table is the generic one with the entries that variant implements replaced; the
// AVX-512 table starts from the AVX2 one, so an op without an AVX-512 version still gets AVX2.
void prm_fill_variant(prm_isa isa, prm_kernel_table *t) {
    prm_fill_generic(t);
    switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case PRM_ISA_AVX512_VNNI:
        prm_fill_avx2_quant(t);
        prm_fill_avx2_float(t);
        prm_fill_avx512_vnni_quant(t);
        break;
    case PRM_ISA_AVX2:
        prm_fill_avx2_quant(t);
        prm_fill_avx2_float(t);
        break;
#endif
#if defined(__aarch64__)
    case PRM_ISA_NEON_DOTPROD:
        prm_fill_neon_dotprod_quant(t);
        prm_fill_neon_float(t);
        break;
#endif
    default:
        break;
    }
}

static void fill(prm_isa isa) {
    if (table_filled[isa]) return;
    prm_fill_variant(isa, &tables[isa]);
    table_filled[isa] = 1;
}

static void initialize(void) {
    fill(PRM_ISA_GENERIC);
    prm_isa best = prm_isa_best();
    fill(best);
    active = best;
}

static const prm_kernel_table *table(void) {
    pthread_once(&once, initialize);
    return &tables[active];
}

prm_isa prm_kernels_active(void) {
    pthread_once(&once, initialize);
    return active;
}

int prm_kernels_force(prm_isa isa) {
    pthread_once(&once, initialize);
    if (isa < 0 || isa >= PRM_ISA_COUNT || !prm_isa_supported(isa)) return -1;
    fill(isa);
    active = isa;
    return 0;
}

const char *prm_isa_name(prm_isa isa) {
    switch (isa) {
    case PRM_ISA_GENERIC: return "generic";
    case PRM_ISA_AVX2: return "avx2";
    case PRM_ISA_AVX512_VNNI: return "avx512_vnni";
    case PRM_ISA_NEON_DOTPROD: return "neon_dotprod";
    default: return "unknown";
    }
}

void prm_linear_f32(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w, int64_t n_begin, int64_t n_end,
                    const float *bias, float *y, int64_t ldy) {
    table()->linear_f32(x, m, k, ldx, w, n_begin, n_end, bias, y, ldy);
}

void prm_linear_f16(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w, int64_t n_begin, int64_t n_end,
                    const float *bias, float *y, int64_t ldy) {
    table()->linear_f16(x, m, k, ldx, w, n_begin, n_end, bias, y, ldy);
}

void prm_quantize_activations(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q8_activations *out) {
    table()->quantize_activations(x, m, k, ldx, out);
}

void prm_linear_q8p16(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n, int64_t n_begin, int64_t n_end,
                      const float *bias, float *y, int64_t ldy) {
    table()->linear_q8p16(x, k, w, n, n_begin, n_end, bias, y, ldy);
}

void prm_linear_q4p16b32(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n, int64_t n_begin,
                         int64_t n_end, const float *bias, float *y, int64_t ldy) {
    table()->linear_q4p16b32(x, k, w, n, n_begin, n_end, bias, y, ldy);
}

void prm_quantize_activations_q16(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q16_activations *out) {
    table()->quantize_activations_q16(x, m, k, ldx, out);
}

void prm_linear_q8p16b32(const prm_q16_activations *x, int64_t k, const uint8_t *w, int64_t n, int64_t n_begin,
                         int64_t n_end, const float *bias, float *y, int64_t ldy) {
    table()->linear_q8p16b32(x, k, w, n, n_begin, n_end, bias, y, ldy);
}

void prm_linear_q8p16b32_a8(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n, int64_t n_begin,
                            int64_t n_end, const float *bias, float *y, int64_t ldy) {
    table()->linear_q8p16b32_a8(x, k, w, n, n_begin, n_end, bias, y, ldy);
}

void prm_sgemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float *c, int64_t ldc) {
    table()->sgemm_nt(m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

void prm_sgemm_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                  int64_t ldc) {
    table()->sgemm_nn(m, n, k, a, lda, b, ldb, c, ldc);
}

void prm_layernorm(const float *x, const float *residual, float *y, int64_t m, int64_t n, int64_t ld, const float *gamma,
                   const float *beta, float eps) {
    table()->layernorm(x, residual, y, m, n, ld, gamma, beta, eps);
}

void prm_gelu(float *x, int64_t count) { table()->gelu(x, count); }

void prm_softmax_rows(float *x, int64_t m, int64_t n, int64_t ld) { table()->softmax_rows(x, m, n, ld); }

void prm_f16_to_f32(const uint16_t *src, float *dst, int64_t count) { table()->f16_to_f32(src, dst, count); }
