// Single-thread GEMM throughput of each kernel variant at PairRM shapes (GOP/s, 2·m·n·k per call):
// the linear layers at 128 and 512 tokens, and the attention sgemms per head (d = 64, rows of the
// hidden-size-1024 Q/K/V/position matrices; n = 255 / 511 relative rows for c2p and p2c).
//   cc -O2 -o /tmp/bench_kernels Tools/kernels/bench_kernels.c
//      Sources/PairRMKernels/{dispatch.c,generic/*.c,arch/*/*.c} -lm -lpthread
//   /tmp/bench_kernels [seconds] [kernel name filter, e.g. q8 or sgemm]
// (clang -O2, which SwiftPM uses for C, generates noticeably faster tiles than GCC 12 here.)
// The generic variant is measured only at the smallest shape (it is ~100x slower).
// First it measures the peak of each multiply instruction the kernels are built on (independent
// chains, no loads), and every row gives the kernel's share of its instruction's peak.
#include "../../Sources/PairRMKernels/kernel_table.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Thread CPU time, not wall time: on a loaded machine the best-of then excludes the time slices
// other processes take (their cache pollution still shows).
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill_random(void *p, size_t bytes) {
    uint64_t s = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < bytes; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ((uint8_t *)p)[i] = (uint8_t)(s >> 56);
    }
}

static void random_floats(float *v, size_t count) {
    fill_random(v, count * 4);
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        v[i] = (float)(bits % 2001) / 1000.0f - 1.0f;
    }
}

typedef enum { Q8, Q4, F32, F16, SNT, SNN, Q8B, Q8A8, KIND_COUNT } kind;
static const char *kind_names[] = {"q8p16", "q4p16b32", "f32", "f16", "sgemm_nt", "sgemm_nn", "q8p16b32", "q8p16b32_a8"};
enum { LD_ATTENTION = 1024 };  // leading dimension of the per-head Q/K/V/position operands

// ---------------------------------------------------------------------------------------------
// Instruction peaks: N independent accumulator chains of one instruction, no memory traffic.
// ops = multiply-adds × 2 per second, as the kernels' GOP/s.

typedef enum { PEAK_NONE, PEAK_DPBUSD, PEAK_DPWSSD, PEAK_MADDWD, PEAK_FMA256, PEAK_FMA512, PEAK_SDOT, PEAK_FMLA, PEAK_COUNT } peak_kind;
static const char *peak_names[] = {"-", "vpdpbusd zmm", "vpdpwssd zmm", "vpmaddwd+vpaddd ymm", "vfmadd231ps ymm",
                                   "vfmadd231ps zmm", "sdot", "fmla"};
static double peaks[PEAK_COUNT];
enum { CHAINS = 12 };
static const long PEAK_ITERATIONS = 20000000;

#if defined(__x86_64__)
#include <immintrin.h>
#define PEAK_LOOP(TYPE, INIT, STEP, OPS, REDUCE)                                      \
    TYPE acc[CHAINS];                                                                  \
    for (int i = 0; i < CHAINS; i++) acc[i] = INIT;                                     \
    double t0 = now();                                                                 \
    for (long it = 0; it < PEAK_ITERATIONS; it++) {                                    \
        for (int i = 0; i < CHAINS; i++) acc[i] = STEP;                                 \
        __asm__ volatile("" : "+x"(a), "+x"(b)); /* opaque: no constant folding */      \
    }                                                                                  \
    double dt = now() - t0;                                                            \
    volatile float sink = 0;                                                           \
    for (int i = 0; i < CHAINS; i++) sink += REDUCE;                                   \
    (void)sink;                                                                        \
    return (double)PEAK_ITERATIONS * CHAINS * (OPS) / dt * 1e-9;

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double peak_dpbusd(void) {
    __m512i a = _mm512_set1_epi32(0x01020304), b = _mm512_set1_epi32(0x01010101);
    PEAK_LOOP(__m512i, _mm512_set1_epi32(i), _mm512_dpbusd_epi32(acc[i], a, b), 64 * 2, (float)_mm512_reduce_add_epi32(acc[i]))
}
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double peak_dpwssd(void) {
    __m512i a = _mm512_set1_epi32(0x00010002), b = _mm512_set1_epi32(0x00010001);
    PEAK_LOOP(__m512i, _mm512_set1_epi32(i), _mm512_dpwssd_epi32(acc[i], a, b), 32 * 2, (float)_mm512_reduce_add_epi32(acc[i]))
}
__attribute__((target("avx2"))) static double peak_maddwd(void) {
    __m256i a = _mm256_set1_epi32(0x00010002), b = _mm256_set1_epi32(0x00010001);
    (void)a;  // the multiply reads its own chain, so it cannot be computed once for all chains
    PEAK_LOOP(__m256i, _mm256_set1_epi32(i), _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], b)), 16 * 2,
              (float)_mm256_extract_epi32(acc[i], 0))
}
__attribute__((target("avx2,fma"))) static double peak_fma256(void) {
    __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f);
    PEAK_LOOP(__m256, _mm256_set1_ps((float)i), _mm256_fmadd_ps(acc[i], a, b), 8 * 2, _mm256_cvtss_f32(acc[i]))
}
__attribute__((target("avx512f"))) static double peak_fma512(void) {
    __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
    PEAK_LOOP(__m512, _mm512_set1_ps((float)i), _mm512_fmadd_ps(acc[i], a, b), 16 * 2, _mm512_reduce_add_ps(acc[i]))
}
#endif

static void measure_peaks(void) {
#if defined(__x86_64__)
    if (prm_isa_supported(PRM_ISA_AVX2)) {
        peaks[PEAK_MADDWD] = peak_maddwd();
        peaks[PEAK_FMA256] = peak_fma256();
    }
    if (prm_isa_supported(PRM_ISA_AVX512_VNNI)) {
        peaks[PEAK_DPBUSD] = peak_dpbusd();
        peaks[PEAK_DPWSSD] = peak_dpwssd();
        peaks[PEAK_FMA512] = peak_fma512();
    }
#endif
    printf("instruction peaks on this core (GOP/s = 2 x multiply-adds):\n");
    for (int p = 1; p < PEAK_COUNT; p++)
        if (peaks[p] > 0) printf("  %-22s %8.1f\n", peak_names[p], peaks[p]);
    printf("\n");
}

// The multiply instruction a kernel's inner loop is built on, per variant.
static peak_kind kernel_peak(prm_isa isa, kind kd) {
    int integer = kd == Q8 || kd == Q4 || kd == Q8B || kd == Q8A8;
    switch (isa) {
    case PRM_ISA_AVX2:
        if (kd == Q4) return PEAK_NONE;  // vpmaddubsw on unsigned nibbles: not vpmaddwd's rate
        return integer ? PEAK_MADDWD : PEAK_FMA256;
    case PRM_ISA_AVX512_VNNI:
        if (!integer) return PEAK_FMA256;  // the float kernels are AVX2's
        return kd == Q8B ? PEAK_DPWSSD : PEAK_DPBUSD;
    case PRM_ISA_NEON_DOTPROD: return integer ? PEAK_SDOT : PEAK_FMLA;
    default: return PEAK_NONE;
    }
}

static void report(prm_isa isa, kind kd, int64_t m, int64_t k, int64_t n, double dt) {
    double rate = 2.0 * m * n * k / dt * 1e-9;
    peak_kind pk = kernel_peak(isa, kd);
    char share[16] = "-";
    if (peaks[pk] > 0) snprintf(share, sizeof share, "%.0f%%", 100.0 * rate / peaks[pk]);
    printf("%-12s %-12s %5lld %5lld %5lld %9.3f %9.1f  %-22s %6s\n", prm_isa_name(isa), kind_names[kd], (long long)m,
           (long long)k, (long long)n, dt * 1e3, rate, peak_names[pk], share);
    fflush(stdout);
}

// Best-of time of one call, repeating for about `seconds`.
static double time_call(const prm_kernel_table *t, kind kd, int64_t m, int64_t k, int64_t n, const void *w,
                        const prm_q8_activations *qa, const prm_q16_activations *q16, const float *x, float *y,
                        double seconds) {
    double best = 1e30, start = now();
    int runs = 0;
    do {
        double t0 = now();
        switch (kd) {
        case Q8: t->linear_q8p16(qa, k, w, n, 0, n, NULL, y, n); break;
        case Q4: t->linear_q4p16b32(qa, k, w, n, 0, n, NULL, y, n); break;
        case Q8B: t->linear_q8p16b32(q16, k, w, n, 0, n, NULL, y, n); break;
        case Q8A8: t->linear_q8p16b32_a8(qa, k, w, n, 0, n, NULL, y, n); break;
        case F32: t->linear_f32(x, m, k, k, w, 0, n, NULL, y, n); break;
        case F16: t->linear_f16(x, m, k, k, w, 0, n, NULL, y, n); break;
        case SNT: t->sgemm_nt(m, n, k, 0.125f, x, LD_ATTENTION, w, LD_ATTENTION, y, n); break;
        case SNN: t->sgemm_nn(m, n, k, x, k, w, LD_ATTENTION, y, LD_ATTENTION); break;
        default: break;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
        runs++;
    } while (now() - start < seconds || runs < 2);
    return best;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    const char *filter = argc > 2 ? argv[2] : NULL;
    static const int64_t shapes[][3] = {{128, 1024, 1024}, {128, 1024, 4096}, {128, 4096, 1024},
                                        {512, 1024, 1024}, {512, 1024, 4096}, {512, 4096, 1024}};
    // m, k, n of the attention products: scores and c2p/p2c (nt), context = P·V (nn).
    // At 2048 tokens: scores, c2p (511 relative rows) and the transposed p2c (relative rows × keys).
    static const int64_t nt_shapes[][3] = {{128, 64, 128}, {128, 64, 255}, {512, 64, 512}, {512, 64, 511},
                                           {2048, 64, 2048}, {2048, 64, 511}, {511, 64, 2048}};
    static const int64_t nn_shapes[][3] = {{128, 128, 64}, {512, 512, 64}, {2048, 2048, 64}};
    int64_t max_m = 2048, max_k = 4096, max_n = 4096;
    float *x = malloc(sizeof(float) * (size_t)(max_m * max_k));
    float *y = malloc(sizeof(float) * (size_t)(max_m * max_n));
    void *w = malloc((size_t)(max_n * max_k * 4 + 128 * max_n));  // big enough for every layout
    random_floats(x, (size_t)(max_m * max_k));
    prm_q8_activations qa = {malloc((size_t)(max_m * max_k)), malloc(4 * (size_t)max_m),
                             malloc(4 * (size_t)(max_m * max_k / 32)), 0, 0};
    prm_q16_activations q16 = {malloc(2 * (size_t)(max_m * max_k)), malloc(4 * (size_t)max_m), 0, 0};
    measure_peaks();
    printf("%-12s %-12s %5s %5s %5s %9s %9s  %-22s %6s\n", "variant", "kernel", "m", "k", "n", "ms", "GOP/s", "instruction",
           "peak");
    for (int isa = 0; isa < PRM_ISA_COUNT; isa++) {
        if (!prm_isa_supported((prm_isa)isa)) continue;
        prm_kernel_table t;
        prm_fill_variant((prm_isa)isa, &t);
        for (int kd = 0; kd < KIND_COUNT; kd++) {
            if (filter && !strstr(kind_names[kd], filter)) continue;
            const int64_t (*list)[3] = kd == SNT ? nt_shapes : kd == SNN ? nn_shapes : shapes;
            size_t count = kd == SNT ? sizeof nt_shapes / sizeof *nt_shapes
                         : kd == SNN ? sizeof nn_shapes / sizeof *nn_shapes : sizeof shapes / sizeof *shapes;
            for (size_t s = 0; s < count; s++) {
                int64_t m = list[s][0], k = list[s][1], n = list[s][2];
                if (isa == PRM_ISA_GENERIC && s > 0) break;
                if (kd == SNT || kd == SNN) {  // operands are columns of 1024-wide activations
                    random_floats(w, (size_t)((kd == SNT ? n : k) * LD_ATTENTION));
                    double dt = time_call(&t, (kind)kd, m, k, n, w, &qa, &q16, x, y, seconds);
                    report((prm_isa)isa, (kind)kd, m, k, n, dt);
                    continue;
                }
                // Random weights: any bytes are valid int8/nibbles; scales and f16 values must be finite.
                // (Shapes are multiples of 16 rows and 32 columns: no padding.)
                int64_t panels = n / PRM_PANEL_ROWS, blocks = panels * (k / PRM_BLOCK_COLUMNS);
                int64_t q8_stride = PRM_PANEL_ROWS * k + PRM_Q8_P16_TAIL_BYTES;
                size_t wbytes = kd == Q8 ? (size_t)(panels * q8_stride) : kd == Q4 ? (size_t)(blocks * PRM_Q4_P16B32_BLOCK_BYTES)
                              : kd == Q8B || kd == Q8A8 ? (size_t)(blocks * PRM_Q8_P16B32_BLOCK_BYTES)
                              : kd == F32 ? (size_t)(n * k * 4) : (size_t)(n * k * 2);
                if (kd == F32) random_floats(w, (size_t)(n * k));
                else fill_random(w, wbytes);
                if (kd == F16) for (size_t i = 0; i < (size_t)(n * k); i++) ((uint16_t *)w)[i] &= 0xBBFF;  // |v| < 2
                if (kd == Q8) for (int64_t p = 0; p < panels; p++) for (int r = 0; r < PRM_PANEL_ROWS; r++) {
                    float one = 0.01f;
                    memcpy((uint8_t *)w + p * q8_stride + PRM_PANEL_ROWS * k + PRM_Q8_P16_TAIL_SCALE_OFFSET + 4 * r, &one, 4);
                }
                if (kd == Q4) for (int64_t b = 0; b < blocks; b++) for (int r = 0; r < PRM_PANEL_ROWS; r++) {
                    float one = 0.01f;
                    memcpy((uint8_t *)w + b * PRM_Q4_P16B32_BLOCK_BYTES + PRM_Q4_P16B32_SCALE_OFFSET + 4 * r, &one, 4);
                }
                if (kd == Q8B || kd == Q8A8) for (int64_t b = 0; b < blocks; b++) for (int r = 0; r < PRM_PANEL_ROWS; r++) {
                    float one = 0.01f;
                    memcpy((uint8_t *)w + b * PRM_Q8_P16B32_BLOCK_BYTES + PRM_Q8_P16B32_SCALE_OFFSET + 4 * r, &one, 4);
                }
                qa.m = m;
                qa.kp = k;
                t.quantize_activations(x, m, k, k, &qa);
                q16.m = m;
                q16.kp = k;
                t.quantize_activations_q16(x, m, k, k, &q16);
                double dt = time_call(&t, (kind)kd, m, k, n, w, &qa, &q16, x, y, seconds);
                report((prm_isa)isa, (kind)kd, m, k, n, dt);
            }
        }
    }
    return 0;
}
