// Compares every kernel of every SIMD variant with the generic reference on random inputs of
// awkward sizes, and checks that splitting the output columns (at multiples of 16) or the rows
// gives bit-identical results. Built by hand or by the scripts next to it:
//   cc -O2 Tools/kernels/kernel_selftest.c Sources/PairRMKernels/{dispatch.c,generic/*.c,arch/*/*.c}
//      -lm -lpthread && ./a.out
// Variants the CPU lacks are skipped, except in emulated builds (PRM_EMULATE_X86_SIMD, set by
// prm_simde_shim.h in test_x86_emulated.sh) where the x86 intrinsics run as portable C. Prints
// "N passed, M failed". The checks are also callable without this file's main
// (-DPRM_SELFTEST_NO_MAIN): prm_selftest_run in kernel_selftest.h.
#include "kernel_selftest.h"
#include "../../Sources/PairRMKernels/kernel_table.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static const char *variant;

// ---------------------------------------------------------------------------------------------
// Random data.

#define RNG_SEED 0x9E3779B97F4A7C15ull
static uint64_t rng_state = RNG_SEED;
static uint32_t next_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(next_u32() & 0xFFFFFF) / 16777216.0f; }
static float *random_floats(int64_t count, float lo, float hi) {
    float *v = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    for (int64_t i = 0; i < count; i++) v[i] = uniform(lo, hi);
    return v;
}

static uint16_t float_to_half(float f) {  // round to nearest even; test values are normal and small
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint32_t sign = (bits >> 16) & 0x8000;
    int32_t exponent = (int32_t)((bits >> 23) & 0xFF) - 127 + 15;
    uint32_t mantissa = bits & 0x7FFFFF;
    if (exponent <= 0) return (uint16_t)sign;
    uint32_t h = sign | ((uint32_t)exponent << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

// Byte offset of row r, column j in a group of 16 rows × 4 columns (pairrm_layouts.h).
static int64_t group_byte(int64_t r, int64_t j) {
    return PRM_GROUP_BYTES * (j / PRM_GROUP_COLUMNS) + PRM_GROUP_COLUMNS * r + j % PRM_GROUP_COLUMNS;
}
static int64_t panels_of(int64_t n) { return (n + PRM_PANEL_ROWS - 1) / PRM_PANEL_ROWS; }
static int64_t blocks_of(int64_t k) { return (k + PRM_BLOCK_COLUMNS - 1) / PRM_BLOCK_COLUMNS; }
static int64_t q8p16_columns(int64_t k) { return (k + PRM_GROUP_COLUMNS - 1) / PRM_GROUP_COLUMNS * PRM_GROUP_COLUMNS; }
static int64_t q8p16_stride(int64_t k) { return PRM_PANEL_ROWS * q8p16_columns(k) + PRM_Q8_P16_TAIL_BYTES; }

// Q8_P16 weights (§6.2) with random int8 in [-127, 127]; padding rows/columns are zero.
static uint8_t *make_q8p16(int64_t n, int64_t k) {
    int64_t panels = panels_of(n), stride = q8p16_stride(k);
    uint8_t *w = calloc((size_t)(panels * stride), 1);
    for (int64_t p = 0; p < panels; p++) {
        uint8_t *panel = w + p * stride, *tail = panel + PRM_PANEL_ROWS * q8p16_columns(k);
        for (int64_t r = 0; r < PRM_PANEL_ROWS; r++) {
            int64_t row = PRM_PANEL_ROWS * p + r;
            int32_t sum = 0;
            float scale = row < n ? uniform(0.001f, 0.02f) : 0.0f;
            for (int64_t c = 0; c < k && row < n; c++) {
                int8_t v = (int8_t)((int)(next_u32() % 255) - 127);
                panel[group_byte(r, c)] = (uint8_t)v;
                sum += v;
            }
            memcpy(tail + PRM_Q8_P16_TAIL_SCALE_OFFSET + 4 * r, &scale, 4);
            memcpy(tail + PRM_Q8_P16_TAIL_ROWSUM_OFFSET + 4 * r, &sum, 4);
        }
    }
    return w;
}

// Q4_P16B32 weights (§6.3): every nibble random, padding included (the activations are zero there).
static uint8_t *make_q4p16b32(int64_t n, int64_t k) {
    int64_t blocks = blocks_of(k), panels = panels_of(n), size = panels * blocks * PRM_Q4_P16B32_BLOCK_BYTES;
    uint8_t *w = malloc((size_t)size);
    for (int64_t p = 0; p < panels; p++) {
        for (int64_t b = 0; b < blocks; b++) {
            uint8_t *blk = w + (p * blocks + b) * PRM_Q4_P16B32_BLOCK_BYTES;
            for (int j = 0; j < PRM_Q4_P16B32_SCALE_OFFSET; j++) blk[j] = (uint8_t)next_u32();
            for (int r = 0; r < PRM_PANEL_ROWS; r++) {
                float scale = PRM_PANEL_ROWS * p + r < n ? uniform(-0.01f, 0.01f) : 0.0f;
                memcpy(blk + PRM_Q4_P16B32_SCALE_OFFSET + 4 * r, &scale, 4);
            }
        }
    }
    return w;
}

static prm_q8_activations alloc_q8(int64_t m, int64_t k) {
    prm_q8_activations a;
    a.m = m;
    a.kp = blocks_of(k) * PRM_BLOCK_COLUMNS;
    a.q = malloc((size_t)(m * a.kp));
    a.scale = malloc(sizeof(float) * (size_t)m);
    a.block_sum = malloc(sizeof(int32_t) * (size_t)(m * a.kp / PRM_BLOCK_COLUMNS));
    return a;
}
static void free_q8(prm_q8_activations *a) { free(a->q); free(a->scale); free(a->block_sum); }

// Rows [i0, i0 + rows) of `a`, as the runtime hands a row range to a thread.
static prm_q8_activations q8_rows(const prm_q8_activations *a, int64_t i0, int64_t rows) {
    prm_q8_activations v = *a;
    v.m = rows;
    v.q += i0 * a->kp;
    v.scale += i0;
    v.block_sum += i0 * (a->kp / PRM_BLOCK_COLUMNS);
    return v;
}

// ---------------------------------------------------------------------------------------------
// Checks. tolerance(i) gives the allowed |got - want| of element i.

typedef double (*tolerance_fn)(int64_t index, double want, const void *context);

static void check(const char *kernel, const char *sizes, const float *got, const float *want, int64_t rows,
                  int64_t cols, int64_t ld, tolerance_fn tolerance, const void *context) {
    int64_t first = -1, count = 0;
    double max_error = 0;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            int64_t idx = i * ld + j;
            double g = got[idx], w = want[idx], e = fabs(g - w);
            int ok = (isnan(g) && isnan(w)) || e <= tolerance(idx, w, context);
            if (!isnan(e) && e > max_error) max_error = e;
            if (!ok) {
                if (first < 0) first = idx;
                count++;
            }
        }
    }
    if (count == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s %s %s: %lld mismatches, first at [%lld][%lld] got %.9g want %.9g, max error %.3g\n",
               variant, kernel, sizes, (long long)count, (long long)(first / ld), (long long)(first % ld),
               got[first], want[first], max_error);
    }
}

static void check_identical(const char *kernel, const char *sizes, const void *got, const void *want, size_t bytes) {
    if (memcmp(got, want, bytes) == 0) {
        passed++;
        return;
    }
    size_t i = 0;
    while (((const uint8_t *)got)[i] == ((const uint8_t *)want)[i]) i++;
    failed++;
    printf("FAIL %s %s %s: not bit-identical, first differing byte %zu\n", variant, kernel, sizes, i);
}

// Relative to the magnitude of the summed terms (cancellation makes |want| itself meaningless).
typedef struct { const float *magnitude; double rel; } mag_tol;
static double vs_magnitude(int64_t i, double want, const void *c) {
    const mag_tol *t = c;
    return t->rel * (fabs(want) + t->magnitude[i]);
}

// ---------------------------------------------------------------------------------------------

// Magnitude of the float terms behind each quantized GEMM output (|bias| + |scaled dot| for Q8_P16,
// |bias| + scale_x · Σ_b |scale_b · dot_b| for Q4_P16B32): variants may fuse the epilogue's
// multiply-adds, which changes the result by a rounding of these terms, not of the (possibly
// cancelled) output.
static float *quantized_magnitude(int q4, const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                  const float *bias, int64_t ldy) {
    float *mag = calloc((size_t)(x->m * ldy), sizeof(float));
    int64_t kp4 = q8p16_columns(k), blocks = blocks_of(k);
    for (int64_t i = 0; i < x->m; i++) {
        const int8_t *q = x->q + i * x->kp;
        for (int64_t o = 0; o < n; o++) {
            double sum = 0;
            int64_t r = o % PRM_PANEL_ROWS;
            if (!q4) {
                const uint8_t *panel = w + (o / PRM_PANEL_ROWS) * q8p16_stride(k);
                int64_t acc = 0;
                for (int64_t j = 0; j < kp4; j++) acc += q[j] * (int8_t)panel[group_byte(r, j)];
                float scale;
                memcpy(&scale, panel + PRM_PANEL_ROWS * kp4 + PRM_Q8_P16_TAIL_SCALE_OFFSET + 4 * r, 4);
                sum = fabs((double)scale * (double)acc);
            } else {
                for (int64_t b = 0; b < blocks; b++) {
                    const uint8_t *blk = w + ((o / PRM_PANEL_ROWS) * blocks + b) * PRM_Q4_P16B32_BLOCK_BYTES;
                    int64_t acc = 0;
                    for (int64_t j = 0; j < PRM_BLOCK_COLUMNS; j++) {
                        int64_t g = j / PRM_Q4_P16B32_GROUP_COLUMNS, c = j % PRM_Q4_P16B32_GROUP_COLUMNS;
                        uint8_t byte = blk[PRM_GROUP_BYTES * g + PRM_GROUP_COLUMNS * r + c % PRM_GROUP_COLUMNS];
                        int u = c < PRM_GROUP_COLUMNS ? byte & 0x0F : byte >> 4;
                        acc += q[PRM_BLOCK_COLUMNS * b + j] * (u - PRM_Q4_P16B32_NIBBLE_OFFSET);
                    }
                    float scale;
                    memcpy(&scale, blk + PRM_Q4_P16B32_SCALE_OFFSET + 4 * r, 4);
                    sum += fabs((double)scale * (double)acc);
                }
            }
            mag[i * ldy + o] = (float)(x->scale[i] * sum + (bias ? fabs(bias[o]) : 0.0));
        }
    }
    return mag;
}

static void test_quantized(const prm_kernel_table *g, const prm_kernel_table *v, int64_t m, int64_t k, int64_t n) {
    char sizes[64];
    snprintf(sizes, sizeof sizes, "m=%lld k=%lld n=%lld", (long long)m, (long long)k, (long long)n);
    int64_t ldx = k + 3, ldy = n + 5;
    float *x = random_floats(m * ldx, -2.0f, 2.0f);
    // Row 1 has max 127 (scale 1), so its values x.5 are exact rounding ties; row 2 is all zero.
    for (int64_t j = 0; m > 1 && j < k; j++) x[ldx + j] = j == 0 ? 127.0f : (float)((j % 2 ? 1 : -1) * (j % 100)) + 0.5f;
    for (int64_t j = 0; m > 2 && j < k; j++) x[2 * ldx + j] = 0.0f;  // an all-zero row
    prm_q8_activations qa = alloc_q8(m, k), qb = alloc_q8(m, k);
    g->quantize_activations(x, m, k, ldx, &qa);
    v->quantize_activations(x, m, k, ldx, &qb);
    check_identical("quantize_activations.q", sizes, qb.q, qa.q, (size_t)(m * qa.kp));
    check_identical("quantize_activations.scale", sizes, qb.scale, qa.scale, sizeof(float) * (size_t)m);
    check_identical("quantize_activations.block_sum", sizes, qb.block_sum, qa.block_sum,
                    sizeof(int32_t) * (size_t)(m * qa.kp / PRM_BLOCK_COLUMNS));

    float *bias = random_floats(n, -1.0f, 1.0f);
    float *want = calloc((size_t)(m * ldy), sizeof(float)), *got = calloc((size_t)(m * ldy), sizeof(float));
    float *split = calloc((size_t)(m * ldy), sizeof(float));
    for (int kind = 0; kind < 2; kind++) {
        uint8_t *w = kind == 0 ? make_q8p16(n, k) : make_q4p16b32(n, k);
        void (*gk)(const prm_q8_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t) =
            kind == 0 ? g->linear_q8p16 : g->linear_q4p16b32;
        void (*vk)(const prm_q8_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t) =
            kind == 0 ? v->linear_q8p16 : v->linear_q4p16b32;
        const char *name = kind == 0 ? "linear_q8p16" : "linear_q4p16b32";
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *b = with_bias ? bias : NULL;
            gk(&qa, k, w, n, 0, n, b, want, ldy);
            vk(&qa, k, w, n, 0, n, b, got, ldy);
            float *mag = quantized_magnitude(kind, &qa, k, w, n, b, ldy);
            mag_tol tol = {mag, 1e-6};
            check(name, sizes, got, want, m, n, ldy, vs_magnitude, &tol);
            free(mag);
        }
        // Determinism: columns in pieces split at multiples of 16, rows in two ranges.
        memset(split, 0, sizeof(float) * (size_t)(m * ldy));
        for (int64_t o = 0; o < n; o += 32) {
            int64_t end = o + (o % 64 == 0 ? 16 : 32);
            vk(&qa, k, w, n, o, end < n ? end : n, bias, split, ldy);
            if (end < n && o % 64 == 0) vk(&qa, k, w, n, end, end + 16 < n ? end + 16 : n, bias, split, ldy);
        }
        char what[80];
        snprintf(what, sizeof what, "%s.split_columns", name);
        vk(&qa, k, w, n, 0, n, bias, got, ldy);
        for (int64_t i = 0; i < m; i++) check_identical(what, sizes, split + i * ldy, got + i * ldy, sizeof(float) * (size_t)n);
        if (m > 1) {
            prm_q8_activations top = q8_rows(&qa, 0, 1), rest = q8_rows(&qa, 1, m - 1);
            vk(&top, k, w, n, 0, n, bias, split, ldy);
            vk(&rest, k, w, n, 0, n, bias, split + ldy, ldy);
            snprintf(what, sizeof what, "%s.split_rows", name);
            for (int64_t i = 0; i < m; i++) check_identical(what, sizes, split + i * ldy, got + i * ldy, sizeof(float) * (size_t)n);
        }
        free(w);
    }
    free(x); free(bias); free(want); free(got); free(split);
    free_q8(&qa); free_q8(&qb);
}

// Q8_P16B32 weights: random int8 in [-127, 127] and random scales of either sign per row and block;
// padding rows and columns zero, padding rows' scales zero.
static uint8_t *make_q8p16b32(int64_t n, int64_t k) {
    int64_t blocks = blocks_of(k), panels = panels_of(n);
    uint8_t *w = calloc((size_t)(panels * blocks * PRM_Q8_P16B32_BLOCK_BYTES), 1);
    for (int64_t p = 0; p < panels; p++)
        for (int64_t b = 0; b < blocks; b++) {
            uint8_t *blk = w + (p * blocks + b) * PRM_Q8_P16B32_BLOCK_BYTES;
            for (int64_t r = 0; r < PRM_PANEL_ROWS && PRM_PANEL_ROWS * p + r < n; r++) {
                for (int64_t j = 0; j < PRM_BLOCK_COLUMNS && PRM_BLOCK_COLUMNS * b + j < k; j++)
                    blk[group_byte(r, j)] = (uint8_t)(int8_t)((int)(next_u32() % 255) - 127);
                float scale = uniform(-0.02f, 0.02f);
                memcpy(blk + PRM_Q8_P16B32_SCALE_OFFSET + 4 * r, &scale, 4);
            }
        }
    return w;
}

static prm_q16_activations alloc_q16(int64_t m, int64_t k) {
    prm_q16_activations a;
    a.m = m;
    a.kp = blocks_of(k) * PRM_BLOCK_COLUMNS;
    a.q = malloc(sizeof(int16_t) * (size_t)(m * a.kp + 1));
    a.scale = malloc(sizeof(float) * (size_t)(m + 1));
    return a;
}

// Quantized rows for a Q8_P16B32 GEMM: int16 (`prm_linear_q8p16b32`) or int8 (`_a8`), one set.
typedef struct q8b_operands {
    const prm_q16_activations *wide;
    const prm_q8_activations *narrow;
} q8b_operands;

// Rows [i0, i0 + rows) of `x` through table `t`'s kernel for that width.
static void run_q8p16b32(const prm_kernel_table *t, q8b_operands x, int64_t i0, int64_t rows, int64_t k,
                         const uint8_t *w, int64_t n, int64_t lo, int64_t hi, const float *bias, float *y, int64_t ldy) {
    if (x.wide) {
        prm_q16_activations part = *x.wide;
        part.m = rows;
        part.q += i0 * part.kp;
        part.scale += i0;
        t->linear_q8p16b32(&part, k, w, n, lo, hi, bias, y, ldy);
    } else {
        prm_q8_activations part = q8_rows(x.narrow, i0, rows);
        t->linear_q8p16b32_a8(&part, k, w, n, lo, hi, bias, y, ldy);
    }
}

// Variant `v` against generic, bit for bit: with and without bias, any n_begin/n_end (also inside a
// panel: outputs outside stay untouched) and any row split.
static void check_q8p16b32(const prm_kernel_table *g, const prm_kernel_table *v, q8b_operands x, const char *sizes,
                           int64_t m, int64_t k, int64_t n, const uint8_t *w, int64_t ldy) {
    const char *name = x.wide ? "linear_q8p16b32" : "linear_q8p16b32_a8";
    char what[96];
    float *bias = random_floats(n, -1.0f, 1.0f);
    size_t bytes = sizeof(float) * (size_t)(m * ldy);
    float *want = calloc((size_t)(m * ldy), sizeof(float)), *got = calloc((size_t)(m * ldy), sizeof(float));
    float *split = malloc(bytes);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b = with_bias ? bias : NULL;
        run_q8p16b32(g, x, 0, m, k, w, n, 0, n, b, want, ldy);
        run_q8p16b32(v, x, 0, m, k, w, n, 0, n, b, got, ldy);
        snprintf(what, sizeof what, "%s%s", name, with_bias ? "" : ".no_bias");
        check_identical(what, sizes, got, want, bytes);
    }
    const int64_t cuts[][2] = {{0, 16}, {16, n}, {5, n}, {0, 7}, {3, 35}, {17, n - 1}, {n - 1, n}};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        int64_t lo = cuts[c][0], hi = cuts[c][1] < n ? cuts[c][1] : n;
        if (lo >= hi) continue;
        for (int64_t i = 0; i < m * ldy; i++) split[i] = -7.0f;
        run_q8p16b32(v, x, 0, m, k, w, n, lo, hi, bias, split, ldy);
        int ok = 1;
        for (int64_t i = 0; i < m; i++)
            for (int64_t o = 0; o < ldy; o++) {
                float expect = o >= lo && o < hi ? want[i * ldy + o] : -7.0f;
                ok &= memcmp(&split[i * ldy + o], &expect, 4) == 0;
            }
        if (ok) {
            passed++;
        } else {
            failed++;
            printf("FAIL %s %s.split_columns %s [%lld, %lld)\n", variant, name, sizes, (long long)lo, (long long)hi);
        }
    }
    snprintf(what, sizeof what, "%s.split_rows", name);
    for (int64_t top = 1; top < m && top <= 5; top += 2) {
        run_q8p16b32(v, x, 0, top, k, w, n, 0, n, bias, split, ldy);
        run_q8p16b32(v, x, top, m - top, k, w, n, 0, n, bias, split + top * ldy, ldy);
        for (int64_t i = 0; i < m; i++)
            check_identical(what, sizes, split + i * ldy, want + i * ldy, sizeof(float) * (size_t)n);
    }
    free(bias); free(want); free(got); free(split);
}

// The Q8_P16B32 paths must be bit-identical to generic: the int16 quantizer (q and scale), then the
// GEMM against int16 rows and against int8 rows of the same input (check_q8p16b32).
static void test_q16(const prm_kernel_table *g, const prm_kernel_table *v, int64_t m, int64_t k, int64_t n) {
    char sizes[64];
    snprintf(sizes, sizeof sizes, "m=%lld k=%lld n=%lld", (long long)m, (long long)k, (long long)n);
    int64_t ldx = k + 3, ldy = n + 5;
    float *x = random_floats(m * ldx, -2.0f, 2.0f);
    // Row 1 has max 32767 (inverse 1), so its values x.5 are exact rounding ties; row 2 is all zero;
    // row 3 is tiny.
    for (int64_t j = 0; m > 1 && j < k; j++) x[ldx + j] = j == 0 ? 32767.0f : (float)((j % 2 ? 1 : -1) * (j % 1000)) + 0.5f;
    for (int64_t j = 0; m > 2 && j < k; j++) x[2 * ldx + j] = 0.0f;
    for (int64_t j = 0; m > 3 && j < k; j++) x[3 * ldx + j] *= 1e-30f;
    prm_q16_activations qa = alloc_q16(m, k), qb = alloc_q16(m, k);
    memset(qb.q, 0x5A, sizeof(int16_t) * (size_t)(m * qb.kp));
    g->quantize_activations_q16(x, m, k, ldx, &qa);
    v->quantize_activations_q16(x, m, k, ldx, &qb);
    check_identical("quantize_activations_q16.q", sizes, qb.q, qa.q, sizeof(int16_t) * (size_t)(m * qa.kp));
    check_identical("quantize_activations_q16.scale", sizes, qb.scale, qa.scale, sizeof(float) * (size_t)m);

    // The same weights against the int8 rows of the same input (W8A8).
    prm_q8_activations narrow = alloc_q8(m, k), narrow_v = alloc_q8(m, k);
    g->quantize_activations(x, m, k, ldx, &narrow);
    v->quantize_activations(x, m, k, ldx, &narrow_v);
    check_identical("quantize_activations.q", sizes, narrow_v.q, narrow.q, (size_t)(m * narrow.kp));
    uint8_t *w = make_q8p16b32(n, k);
    for (int width = 2; width >= 1; width--) {
        q8b_operands wide_rows = {&qa, NULL}, narrow_rows = {NULL, &narrow};
        check_q8p16b32(g, v, width == 2 ? wide_rows : narrow_rows, sizes, m, k, n, w, ldy);
    }
    free(x); free(w);
    free(qa.q); free(qa.scale); free(qb.q); free(qb.scale);
    free_q8(&narrow); free_q8(&narrow_v);
}

// Σ |a_ip b_jp| for the f32 GEMM tolerances.
static float *dot_magnitude(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                            int64_t ldb_row, int64_t ldb_col, int64_t ldc) {
    float *mag = calloc((size_t)(m * ldc), sizeof(float));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += fabs((double)a[i * lda + p] * b[j * ldb_row + p * ldb_col]);
            mag[i * ldc + j] = (float)s;
        }
    return mag;
}

static void test_float_gemms(const prm_kernel_table *g, const prm_kernel_table *v, int64_t m, int64_t k, int64_t n) {
    char sizes[64];
    snprintf(sizes, sizeof sizes, "m=%lld k=%lld n=%lld", (long long)m, (long long)k, (long long)n);
    int64_t ldx = k + 3, ldy = n + 5;
    float *x = random_floats(m * ldx, -1.0f, 1.0f);
    float *w = random_floats(n * k, -1.0f, 1.0f);
    uint16_t *wh = malloc(sizeof(uint16_t) * (size_t)(n * k + 1));
    for (int64_t i = 0; i < n * k; i++) wh[i] = float_to_half(w[i]);
    float *bias = random_floats(n, -1.0f, 1.0f);
    float *want = calloc((size_t)(m * ldy), sizeof(float)), *got = calloc((size_t)(m * ldy), sizeof(float));
    float *split = calloc((size_t)(m * ldy), sizeof(float));
    float *mag = dot_magnitude(m, n, k, x, ldx, w, k, 1, ldy);
    mag_tol tol = {mag, 1e-5};

    g->linear_f32(x, m, k, ldx, w, 0, n, bias, want, ldy);
    v->linear_f32(x, m, k, ldx, w, 0, n, bias, got, ldy);
    check("linear_f32", sizes, got, want, m, n, ldy, vs_magnitude, &tol);
    for (int64_t o = 0; o < n; o += 16) v->linear_f32(x, m, k, ldx, w, o, o + 16 < n ? o + 16 : n, bias, split, ldy);
    for (int64_t i = 0; i < m; i++)
        check_identical("linear_f32.split_columns", sizes, split + i * ldy, got + i * ldy, sizeof(float) * (size_t)n);
    if (m > 1) {
        v->linear_f32(x + ldx, m - 1, k, ldx, w, 0, n, bias, split + ldy, ldy);
        for (int64_t i = 1; i < m; i++)
            check_identical("linear_f32.split_rows", sizes, split + i * ldy, got + i * ldy, sizeof(float) * (size_t)n);
    }

    g->linear_f16(x, m, k, ldx, wh, 0, n, NULL, want, ldy);
    v->linear_f16(x, m, k, ldx, wh, 0, n, NULL, got, ldy);
    check("linear_f16", sizes, got, want, m, n, ldy, vs_magnitude, &tol);
    for (int64_t o = 0; o < n; o += 16) v->linear_f16(x, m, k, ldx, wh, o, o + 16 < n ? o + 16 : n, NULL, split, ldy);
    for (int64_t i = 0; i < m; i++)
        check_identical("linear_f16.split_columns", sizes, split + i * ldy, got + i * ldy, sizeof(float) * (size_t)n);

    // sgemm_nt: A = x (m×k, ldx), B = w (n×k, ldb = k).
    g->sgemm_nt(m, n, k, 0.125f, x, ldx, w, k, want, ldy);
    v->sgemm_nt(m, n, k, 0.125f, x, ldx, w, k, got, ldy);
    mag_tol tol_nt = {mag, 1e-5};
    for (int64_t i = 0; i < m * ldy; i++) mag[i] *= 0.125f;
    check("sgemm_nt", sizes, got, want, m, n, ldy, vs_magnitude, &tol_nt);
    free(mag);

    // sgemm_nn: A = x (m×k), B = w viewed as k×n with ldb = n + 1 (needs (k)(n+1) floats ≤ n·k + k).
    float *b_nn = random_floats(k * (n + 1), -1.0f, 1.0f);
    mag = dot_magnitude(m, n, k, x, ldx, b_nn, 1, n + 1, ldy);
    mag_tol tol_nn = {mag, 1e-5};
    g->sgemm_nn(m, n, k, x, ldx, b_nn, n + 1, want, ldy);
    v->sgemm_nn(m, n, k, x, ldx, b_nn, n + 1, got, ldy);
    check("sgemm_nn", sizes, got, want, m, n, ldy, vs_magnitude, &tol_nn);
    free(mag);
    free(b_nn);
    free(x); free(w); free(wh); free(bias); free(want); free(got); free(split);
}

static void test_rowwise(const prm_kernel_table *g, const prm_kernel_table *v, int64_t m, int64_t n) {
    char sizes[64];
    snprintf(sizes, sizeof sizes, "m=%lld n=%lld", (long long)m, (long long)n);
    int64_t ld = n + 7;
    float *x = random_floats(m * ld, -3.0f, 5.0f), *res = random_floats(m * ld, -1.0f, 1.0f);
    float *gamma = random_floats(n, 0.5f, 1.5f), *beta = random_floats(n, -0.5f, 0.5f);
    float *want = calloc((size_t)(m * ld), sizeof(float)), *got = calloc((size_t)(m * ld), sizeof(float));
    for (int with_res = 0; with_res < 2; with_res++) {
        g->layernorm(x, with_res ? res : NULL, want, m, n, ld, gamma, beta, 1e-7f);
        v->layernorm(x, with_res ? res : NULL, got, m, n, ld, gamma, beta, 1e-7f);
        float *ones = malloc(sizeof(float) * (size_t)(m * ld));
        for (int64_t i = 0; i < m * ld; i++) ones[i] = 1.0f;
        mag_tol unit = {ones, 1e-5};  // outputs are O(1): absolute floor 1e-5
        check(with_res ? "layernorm+residual" : "layernorm", sizes, got, want, m, n, ld, vs_magnitude, &unit);
        free(ones);
    }

    // gelu over a wide range, including the tails where erf saturates.
    int64_t count = m * n;
    float *gx = random_floats(count, -10.0f, 10.0f);
    for (int64_t i = 0; i < count && i < 64; i++) gx[i] = -8.0f + 0.25f * (float)i;
    float *ga = malloc(sizeof(float) * (size_t)count), *gb = malloc(sizeof(float) * (size_t)count);
    float *gmag = malloc(sizeof(float) * (size_t)count);
    memcpy(ga, gx, sizeof(float) * (size_t)count);
    memcpy(gb, gx, sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++) gmag[i] = fabsf(gx[i]) > 1 ? fabsf(gx[i]) : 1.0f;
    g->gelu(ga, count);
    v->gelu(gb, count);
    mag_tol gtol = {gmag, 1e-6};
    check("gelu", sizes, gb, ga, 1, count, count, vs_magnitude, &gtol);
    free(gx); free(ga); free(gb); free(gmag);

    // softmax on attention-like scores, one row partly masked with -inf.
    float *s = random_floats(m * ld, -20.0f, 20.0f);
    for (int64_t j = n / 2; j < n; j++) s[j] = -INFINITY;
    memcpy(want, s, sizeof(float) * (size_t)(m * ld));
    memcpy(got, s, sizeof(float) * (size_t)(m * ld));
    g->softmax_rows(want, m, n, ld);
    v->softmax_rows(got, m, n, ld);
    float *tiny = calloc((size_t)(m * ld), sizeof(float));
    for (int64_t i = 0; i < m * ld; i++) tiny[i] = 1e-30f;
    mag_tol stol = {tiny, 1e-5};  // relative, with an absolute floor for underflowing exponentials
    check("softmax_rows", sizes, got, want, m, n, ld, vs_magnitude, &stol);
    free(tiny); free(s);
    free(x); free(res); free(gamma); free(beta); free(want); free(got);
}

// The IEEE binary16 value of `h` as f32, computed independently of any kernel: ldexpf for finite
// values (all exact in f32), and what vcvtph2ps / fcvt give for the rest (NaNs quieted).
static uint32_t expected_f16_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    if (exponent == 31) return sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0);
    float magnitude = exponent == 0 ? ldexpf((float)mantissa, -24) : ldexpf((float)(1024 + mantissa), (int)exponent - 25);
    uint32_t bits;
    memcpy(&bits, &magnitude, 4);
    return sign | bits;
}

// All 65536 inputs bit-exact against the independent reference (so generic and every variant agree
// with the hardware), then short and misaligned runs: each element the same, nothing written past
// `count`.
static void test_f16_to_f32(const prm_kernel_table *t) {
    uint16_t *all = malloc(sizeof(uint16_t) * 65536);
    uint32_t *want = malloc(sizeof(uint32_t) * 65536), *got = malloc(sizeof(uint32_t) * (65536 + 64));
    for (uint32_t i = 0; i < 65536; i++) { all[i] = (uint16_t)i; want[i] = expected_f16_bits((uint16_t)i); }
    t->f16_to_f32(all, (float *)got, 65536);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < 65536; i++) if (got[i] != want[i]) { if (first < 0) first = i; bad++; }
    if (bad == 0) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s f16_to_f32 all inputs: %lld mismatches, first 0x%04llx got 0x%08x want 0x%08x\n", variant,
               (long long)bad, (long long)first, got[first], want[first]);
    }
    int ok = 1;
    for (int64_t offset = 0; offset < 4 && ok; offset++) {
        for (int64_t count = 0; count <= 40 && ok; count++) {
            int64_t start = (int64_t)(next_u32() % 60000);
            for (int64_t i = 0; i < count + 8; i++) got[offset + i] = 0xDEADBEEFu;
            t->f16_to_f32(all + start + offset, (float *)got + offset, count);
            for (int64_t i = 0; i < count; i++) ok &= got[offset + i] == want[start + offset + i];
            for (int64_t i = count; i < count + 8; i++) ok &= got[offset + i] == 0xDEADBEEFu;
        }
    }
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s f16_to_f32 short/misaligned runs\n", variant);
    }
    free(all); free(want); free(got);
}

// Whether this build can run `isa`: the CPU's support, or any x86 variant in emulated builds.
static int testable(int isa) {
    if (isa < 0 || isa >= PRM_ISA_COUNT) return 0;
#if defined(PRM_EMULATE_X86_SIMD)
    if (isa == PRM_ISA_AVX2 || isa == PRM_ISA_AVX512_VNNI) return 1;
#endif
    return prm_isa_supported((prm_isa)isa);
}

int prm_selftest_run(int isa) {
    if (!testable(isa)) return -1;
    static const int64_t ms[] = {1, 3, 17, 64}, ks[] = {4, 32, 36, 100, 1024}, ns[] = {16, 17, 48, 100};
    rng_state = RNG_SEED;  // the same data whatever ran before
    int before = failed;
    prm_kernel_table generic;
    prm_fill_variant(PRM_ISA_GENERIC, &generic);
    variant = prm_isa_name((prm_isa)isa);
    if (isa == PRM_ISA_GENERIC) {
        test_f16_to_f32(&generic);
    } else {
        prm_kernel_table t;
        prm_fill_variant((prm_isa)isa, &t);
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
                    test_quantized(&generic, &t, ms[a], ks[b], ns[c]);
                    test_float_gemms(&generic, &t, ms[a], ks[b], ns[c]);
                }
        static const int64_t q16_ks[] = {1, 31, 32, 33, 100, 1024}, q16_ns[] = {1, 16, 17, 40, 100};
        for (int64_t m = 1; m <= 9; m++)
            for (size_t b = 0; b < sizeof q16_ks / sizeof *q16_ks; b++)
                for (size_t c = 0; c < sizeof q16_ns / sizeof *q16_ns; c++) test_q16(&generic, &t, m, q16_ks[b], q16_ns[c]);
        test_q16(&generic, &t, 64, 4096, 48);
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) test_rowwise(&generic, &t, ms[a], ks[c % 5] + ns[c]);
        test_f16_to_f32(&t);
    }
    printf("%s: %s\n", variant, failed == before ? "ok" : "FAILED");
    fflush(stdout);
    return failed - before;
}

void prm_selftest_totals(int *passed_out, int *failed_out) {
    if (passed_out) *passed_out = passed;
    if (failed_out) *failed_out = failed;
}

#if !defined(PRM_SELFTEST_NO_MAIN)
int main(void) {
    for (int isa = 0; isa < PRM_ISA_COUNT; isa++)
        if (prm_selftest_run(isa) < 0) printf("skip %s (not supported here)\n", prm_isa_name((prm_isa)isa));
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
#endif
