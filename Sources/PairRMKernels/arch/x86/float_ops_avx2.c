// AVX2 + FMA (+F16C) variants of the f32 kernels: linear_f32 / linear_f16 / sgemm_nt / sgemm_nn
// (register-blocked broadcast GEMM), layernorm, gelu, softmax_rows and f16_to_f32.
//
// Determinism: every GEMM output element is one FMA chain over p = 0, 1, ..., k-1 in order (starting
// from 0), then the epilogue (+ bias, or · alpha), whatever its position in a register tile; so
// splitting rows or columns across calls or threads cannot change a bit. The results differ from
// generic only by FMA rounding.
#if defined(__x86_64__) || defined(_M_X64)
#include "x86_simd.h"
#include "../../kernel_table.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

PRM_INLINE PRM_TARGET_AVX2 float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---------------------------------------------------------------------------------------------
// Broadcast GEMM. C[i][j] = Σ_p A[i][p] · B[p][j] over a GEMM_ROWS × 16 register tile: per p, two
// vectors of B (16 columns) and one broadcast of A per row feed 2 · GEMM_ROWS FMAs (12 accumulators,
// 2 B vectors and 1 broadcast of the 16 ymm registers). B is read as rows of 16 floats `bstride`
// apart: the rows of B itself for sgemm_nn, or a panel packed from the k-contiguous rows of
// W / Bᵀ (linear_f32 / linear_f16 / sgemm_nt; f16 converted while packing).

enum { GEMM_ROWS = 6, GEMM_COLS = 16 };

typedef enum { EPI_NONE, EPI_ALPHA, EPI_BIAS } gemm_epilogue;

// Steps of k per packed panel block (16 × 256 floats = 16 KB, on the stack, stays in L1). Blocks
// after the first continue the accumulators from C and only the last applies the epilogue: a float
// store and reload is exact, so each output is still one FMA chain over p = 0 … k-1.
enum { GEMM_KC = 256 };

PRM_INLINE PRM_TARGET_AVX2 __m256 load_b8(const void *b, int half, int64_t p) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)b + p)));
    return _mm256_loadu_ps((const float *)b + p);
}

// Lanes j0..j0+8 of a row of 16 that lie inside `cols`.
PRM_INLINE PRM_TARGET_AVX2 __m256i lanes_inside(int cols, int j0) {
    int count = cols - j0;
    return prm_first_lanes(count < 0 ? 0 : count > 8 ? 8 : count);
}

PRM_INLINE PRM_TARGET_AVX2 void gemm_tile(int rows, int full, int cols, const float *a, int64_t lda, const float *b,
                                          int64_t bstride, int64_t k, int first, int last, gemm_epilogue epilogue,
                                          float alpha, const float *bias, float *c, int64_t ldc) {
    __m256 acc[GEMM_ROWS][2];
    __m256i m0 = lanes_inside(cols, 0), m1 = lanes_inside(cols, 8);
    for (int r = 0; r < rows; r++) {
        if (first) {
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        } else if (full) {
            acc[r][0] = _mm256_loadu_ps(c + r * ldc);
            acc[r][1] = _mm256_loadu_ps(c + r * ldc + 8);
        } else {
            acc[r][0] = _mm256_maskload_ps(c + r * ldc, m0);
            acc[r][1] = _mm256_maskload_ps(c + r * ldc + 8, m1);
        }
    }
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * bstride;
        __m256 b0 = full ? _mm256_loadu_ps(bp) : _mm256_maskload_ps(bp, m0);
        __m256 b1 = full ? _mm256_loadu_ps(bp + 8) : _mm256_maskload_ps(bp + 8, m1);
        for (int r = 0; r < rows; r++) {
            __m256 av = _mm256_broadcast_ss(a + r * lda + p);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    if (!last) epilogue = EPI_NONE;
    __m256 e0 = _mm256_setzero_ps(), e1 = _mm256_setzero_ps();
    if (epilogue == EPI_ALPHA) e0 = e1 = _mm256_set1_ps(alpha);
    if (epilogue == EPI_BIAS && bias) {
        e0 = full ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, m0);
        e1 = full ? _mm256_loadu_ps(bias + 8) : _mm256_maskload_ps(bias + 8, m1);
    }
    for (int r = 0; r < rows; r++) {
        __m256 v0 = acc[r][0], v1 = acc[r][1];
        if (epilogue == EPI_ALPHA) { v0 = _mm256_mul_ps(v0, e0); v1 = _mm256_mul_ps(v1, e1); }
        if (epilogue == EPI_BIAS) { v0 = _mm256_add_ps(v0, e0); v1 = _mm256_add_ps(v1, e1); }
        if (full) {
            _mm256_storeu_ps(c + r * ldc, v0);
            _mm256_storeu_ps(c + r * ldc + 8, v1);
        } else {
            _mm256_maskstore_ps(c + r * ldc, m0, v0);
            _mm256_maskstore_ps(c + r * ldc + 8, m1, v1);
        }
    }
}

// Every row tile of m rows against one column tile (cols ≤ 16 columns at c).
PRM_INLINE PRM_TARGET_AVX2 void gemm_column(int full, int cols, int64_t m, const float *a, int64_t lda, const float *b,
                                            int64_t bstride, int64_t k, int first, int last, gemm_epilogue epilogue,
                                            float alpha, const float *bias, float *c, int64_t ldc) {
    int64_t i = 0;
#define GEMM_TILE(R) gemm_tile(R, full, cols, a + i * lda, lda, b, bstride, k, first, last, epilogue, alpha, bias, \
                               c + i * ldc, ldc)
    for (; i + GEMM_ROWS <= m; i += GEMM_ROWS) GEMM_TILE(GEMM_ROWS);
    switch (m - i) {
    case 5: GEMM_TILE(5); break;
    case 4: GEMM_TILE(4); break;
    case 3: GEMM_TILE(3); break;
    case 2: GEMM_TILE(2); break;
    case 1: GEMM_TILE(1); break;
    default: break;
    }
#undef GEMM_TILE
}

PRM_INLINE PRM_TARGET_AVX2 void gemm_columns(int cols, int64_t m, const float *a, int64_t lda, const float *b,
                                             int64_t bstride, int64_t k, int first, int last, gemm_epilogue epilogue,
                                             float alpha, const float *bias, float *c, int64_t ldc) {
    if (cols == GEMM_COLS) gemm_column(1, GEMM_COLS, m, a, lda, b, bstride, k, first, last, epilogue, alpha, bias, c, ldc);
    else gemm_column(0, cols, m, a, lda, b, bstride, k, first, last, epilogue, alpha, bias, c, ldc);
}

// 8 × 8 transpose of r[0..8) in place.
PRM_INLINE PRM_TARGET_AVX2 void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

PRM_INLINE PRM_TARGET_AVX2 float load_b1(const void *b, int half, int64_t index) {
    if (half) {
        uint16_t h;
        memcpy(&h, (const uint16_t *)b + index, 2);
        return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
    }
    return ((const float *)b)[index];
}

// out[p][j] = B[j][p] (f32 or f16 rows ldb apart) for j < cols, 0 for cols ≤ j < 16, p < k.
PRM_INLINE PRM_TARGET_AVX2 void pack_panel(int half, const void *b, int64_t ldb, int cols, int64_t k, float *out) {
    const size_t elem = half ? 2 : 4;
    int64_t p = 0;
    if (cols == GEMM_COLS) {
        for (; p + 8 <= k; p += 8) {
            for (int h = 0; h < 2; h++) {
                __m256 r[8];
                for (int j = 0; j < 8; j++) r[j] = load_b8((const char *)b + (size_t)((8 * h + j) * ldb) * elem, half, p);
                transpose8(r);
                for (int q = 0; q < 8; q++) _mm256_storeu_ps(out + (p + q) * GEMM_COLS + 8 * h, r[q]);
            }
        }
    }
    for (; p < k; p++)
        for (int j = 0; j < GEMM_COLS; j++)
            out[p * GEMM_COLS + j] = j < cols ? load_b1((const char *)b + (size_t)(j * ldb) * elem, half, p) : 0.0f;
}

// C = A · Bᵀ for B given as k-contiguous rows (W or the second sgemm_nt operand), columns
// [n_begin, n_end), tiles starting at n_begin (a multiple of 16 except at n).
PRM_INLINE PRM_TARGET_AVX2 void packed_gemm(int half, int64_t m, int64_t n_begin, int64_t n_end, int64_t k,
                                            const float *a, int64_t lda, const void *b, int64_t ldb,
                                            gemm_epilogue epilogue, float alpha, const float *bias, float *c,
                                            int64_t ldc) {
    if (m <= 0 || n_begin >= n_end) return;
    const size_t elem = half ? 2 : 4;
    float panel[GEMM_COLS * GEMM_KC];
    for (int64_t j = n_begin; j < n_end; j += GEMM_COLS) {
        int cols = (int)(n_end - j < GEMM_COLS ? n_end - j : GEMM_COLS);
        for (int64_t p0 = 0; p0 < k || p0 == 0; p0 += GEMM_KC) {
            int64_t kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
            pack_panel(half, (const char *)b + (size_t)(j * ldb + p0) * elem, ldb, cols, kc, panel);
            gemm_columns(cols, m, a + p0, lda, panel, GEMM_COLS, kc, p0 == 0, p0 + kc >= k, epilogue, alpha,
                         bias ? bias + j : NULL, c + j, ldc);
        }
    }
}

PRM_TARGET_AVX2 static void linear_f32_avx2(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w,
                                            int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    packed_gemm(0, m, n_begin, n_end, k, x, ldx, w, k, EPI_BIAS, 1.0f, bias, y, ldy);
}

PRM_TARGET_AVX2 static void linear_f16_avx2(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w,
                                            int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    packed_gemm(1, m, n_begin, n_end, k, x, ldx, w, k, EPI_BIAS, 1.0f, bias, y, ldy);
}

// Rows of A per pass over B in sgemm_nt. A head's rows of Q are 4 KB apart (one page each) and
// its score rows 8 KB apart at 2048 tokens: sweeping all of them for every 16-column panel missed
// the TLB and ran at ~47 GFLOP/s (vs ~80 at 512 tokens). 512 rows keep A's pages and lines
// resident across the panels, for re-packing B once per block (k = 64: a few % of the work).
// Each output is still one FMA chain over p, so the blocking changes no bit.
enum { NT_ROW_BLOCK = 512 };

PRM_TARGET_AVX2 static void sgemm_nt_avx2(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                                          const float *b, int64_t ldb, float *c, int64_t ldc) {
    for (int64_t i0 = 0; i0 < m; i0 += NT_ROW_BLOCK) {
        int64_t rows = m - i0 < NT_ROW_BLOCK ? m - i0 : NT_ROW_BLOCK;
        packed_gemm(0, rows, 0, n, k, a + i0 * lda, lda, b, ldb, EPI_ALPHA, alpha, NULL, c + i0 * ldc, ldc);
    }
}

// B's rows are already k-major, but a head's columns of V are rows 4 KB apart (ldb = hidden size),
// which all map to one L1 set: copy each 16-column panel (KC rows at a time) contiguous first.
// Up to NN_PANELS panels (a head's 64 columns) are copied per KC block, and each block of
// NN_ROW_BLOCK rows of A then serves all of them while it is in L2: at 2048 tokens the score
// matrix (16 MB) is read once instead of once per panel (~49 → ~70 GFLOP/s). The copies take
// 64 KB of stack; shorter K blocks that would fit 16 KB measured slower (KC 128: ~41, 64: ~52
// GFLOP/s at 2048), the accumulators' store/reload per block then dominating. Each output is still
// one FMA chain over p (exact store/reload between K blocks), so no bit changes.
enum { NN_PANELS = 4, NN_ROW_BLOCK = 128 };

PRM_TARGET_AVX2 static void sgemm_nn_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                          const float *b, int64_t ldb, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    float panels[NN_PANELS][GEMM_COLS * GEMM_KC];
    for (int64_t j0 = 0; j0 < n; j0 += NN_PANELS * GEMM_COLS) {
        int cols[NN_PANELS], count = 0;
        for (int64_t j = j0; j < n && count < NN_PANELS; j += GEMM_COLS)
            cols[count++] = (int)(n - j < GEMM_COLS ? n - j : GEMM_COLS);
        for (int64_t p0 = 0; p0 < k || p0 == 0; p0 += GEMM_KC) {
            int64_t kc = k - p0 < GEMM_KC ? k - p0 : GEMM_KC;
            for (int q = 0; q < count; q++) {
                __m256i m0 = lanes_inside(cols[q], 0), m1 = lanes_inside(cols[q], 8);
                int full = cols[q] == GEMM_COLS;
                for (int64_t p = 0; p < kc; p++) {
                    const float *row = b + (p0 + p) * ldb + j0 + q * GEMM_COLS;
                    float *out = panels[q] + p * GEMM_COLS;
                    _mm256_storeu_ps(out, full ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, m0));
                    _mm256_storeu_ps(out + 8, full ? _mm256_loadu_ps(row + 8) : _mm256_maskload_ps(row + 8, m1));
                }
            }
            for (int64_t i0 = 0; i0 < m; i0 += NN_ROW_BLOCK) {
                int64_t rows = m - i0 < NN_ROW_BLOCK ? m - i0 : NN_ROW_BLOCK;
                for (int q = 0; q < count; q++)
                    gemm_columns(cols[q], rows, a + i0 * lda + p0, lda, panels[q], GEMM_COLS, kc, p0 == 0, p0 + kc >= k,
                                 EPI_NONE, 1.0f, NULL, c + i0 * ldc + j0 + q * GEMM_COLS, ldc);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Row-wise ops.

// x (+ residual) for lanes j..j+8 of a row, zero past n.
PRM_INLINE PRM_TARGET_AVX2 __m256 load_sum8(const float *row, const float *res, int64_t j, int64_t n) {
    if (j + 8 <= n) {
        __m256 v = _mm256_loadu_ps(row + j);
        return res ? _mm256_add_ps(v, _mm256_loadu_ps(res + j)) : v;
    }
    __m256i mask = prm_first_lanes(n - j);
    __m256 v = _mm256_maskload_ps(row + j, mask);
    return res ? _mm256_add_ps(v, _mm256_maskload_ps(res + j, mask)) : v;
}

// Mean and variance are accumulated in double like the generic kernel (they feed every element).
PRM_TARGET_AVX2 static void layernorm_avx2(const float *x, const float *residual, float *y, int64_t m, int64_t n,
                                           int64_t ld, const float *gamma, const float *beta, float eps) {
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ld;
        const float *res = residual ? residual + i * ld : NULL;
        float *out = y + i * ld;
        __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
        for (int64_t j = 0; j < n; j += 8) {
            __m256 v = load_sum8(row, res, j, n);
            s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        }
        double lanes[4];
        _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
        double mean = (lanes[0] + lanes[1] + lanes[2] + lanes[3]) / (double)n;
        __m256d mv = _mm256_set1_pd(mean);
        s0 = _mm256_setzero_pd();
        s1 = _mm256_setzero_pd();
        for (int64_t j = 0; j < n; j += 8) {
            __m256 v = load_sum8(row, res, j, n);
            __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mv);
            __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mv);
            if (j + 8 > n) {  // the padding lanes hold 0 - mean
                double keep[8];
                for (int l = 0; l < 8; l++) keep[l] = j + l < n ? 1.0 : 0.0;
                d0 = _mm256_mul_pd(d0, _mm256_loadu_pd(keep));
                d1 = _mm256_mul_pd(d1, _mm256_loadu_pd(keep + 4));
            }
            s0 = _mm256_fmadd_pd(d0, d0, s0);
            s1 = _mm256_fmadd_pd(d1, d1, s1);
        }
        _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
        double squares = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        __m256 inv = _mm256_set1_ps((float)(1.0 / sqrt(squares / (double)n + (double)eps)));
        __m256 fmean = _mm256_set1_ps((float)mean);
        for (int64_t j = 0; j < n; j += 8) {
            __m256 v = load_sum8(row, res, j, n);
            __m256 norm = _mm256_mul_ps(_mm256_sub_ps(v, fmean), inv);
            if (j + 8 <= n) {
                _mm256_storeu_ps(out + j, _mm256_fmadd_ps(norm, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
            } else {
                __m256i mask = prm_first_lanes(n - j);
                __m256 r = _mm256_fmadd_ps(norm, _mm256_maskload_ps(gamma + j, mask), _mm256_maskload_ps(beta + j, mask));
                _mm256_maskstore_ps(out + j, mask, r);
            }
        }
    }
}

// erf(x) as x·P(x²)/Q(x²) on [-4, 4] (outside, erf rounds to ±1 in f32): the rational approximation
// of Eigen/TensorFlow's float erf, max abs error ≈ 1e-7 against erff.
PRM_INLINE PRM_TARGET_AVX2 __m256 erf8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
    p = _mm256_mul_ps(x, p);
    __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
    return _mm256_div_ps(p, q);
}

PRM_INLINE PRM_TARGET_AVX2 __m256 gelu8(__m256 x) {
    __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

PRM_TARGET_AVX2 static void gelu_avx2(float *x, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < count) {
        __m256i mask = prm_first_lanes(count - i);
        _mm256_maskstore_ps(x + i, mask, gelu8(_mm256_maskload_ps(x + i, mask)));
    }
}

// exp(x) for x ≤ 0 (softmax inputs after subtracting the row max): Cephes' expf, x = n·ln2 + r with
// |r| ≤ ln2/2, e^r by a degree-6 polynomial (≈1 ulp), 2^n through the exponent bits. Results that
// would be subnormal (x < -87.3) flush to 0.
PRM_INLINE PRM_TARGET_AVX2 __m256 exp8(__m256 x) {
    __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(e, _mm256_castsi256_ps(bits)));
}

PRM_TARGET_AVX2 static void softmax_rows_avx2(float *x, int64_t m, int64_t n, int64_t ld) {
    for (int64_t i = 0; i < m; i++) {
        float *row = x + i * ld;
        __m256 vmax = _mm256_set1_ps(-INFINITY);
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
        float lanes[8];
        _mm256_storeu_ps(lanes, vmax);
        float maximum = -INFINITY;
        for (int l = 0; l < 8; l++) maximum = fmaxf(maximum, lanes[l]);
        for (; j < n; j++) maximum = fmaxf(maximum, row[j]);

        __m256 mv = _mm256_set1_ps(maximum), vsum = _mm256_setzero_ps();
        for (j = 0; j + 8 <= n; j += 8) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), mv));
            _mm256_storeu_ps(row + j, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        if (j < n) {
            __m256i mask = prm_first_lanes(n - j);
            __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(row + j, mask), mv)), _mm256_castsi256_ps(mask));
            _mm256_maskstore_ps(row + j, mask, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
        for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
        if (j < n) {
            __m256i mask = prm_first_lanes(n - j);
            _mm256_maskstore_ps(row + j, mask, _mm256_mul_ps(_mm256_maskload_ps(row + j, mask), inv));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// f16 -> f32 with F16C (exact; NaNs come out quiet, which generic reproduces). The tail goes through
// a zero-padded copy so every element, the last few included, is converted by the same instruction.

PRM_TARGET_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i)));
        __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i + 8)));
        _mm256_storeu_ps(dst + i, lo);
        _mm256_storeu_ps(dst + i + 8, hi);
    }
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    if (i < count) {
        uint16_t tail[8] = {0};
        memcpy(tail, src + i, sizeof(uint16_t) * (size_t)(count - i));
        _mm256_maskstore_ps(dst + i, prm_first_lanes(count - i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tail)));
    }
}

void prm_fill_avx2_float(prm_kernel_table *t) {
    t->linear_f32 = linear_f32_avx2;
    t->linear_f16 = linear_f16_avx2;
    t->sgemm_nt = sgemm_nt_avx2;
    t->sgemm_nn = sgemm_nn_avx2;
    t->layernorm = layernorm_avx2;
    t->gelu = gelu_avx2;
    t->softmax_rows = softmax_rows_avx2;
    t->f16_to_f32 = f16_to_f32_avx2;
}

#endif
