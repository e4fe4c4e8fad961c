// AVX2 + FMA (+F16C) variants of the f32 kernels: linear_f32 / linear_f16 / sgemm_nt (dot products
// along k), sgemm_nn (rows of B), layernorm, gelu and softmax_rows.
//
// Determinism: every output element is computed by the same instruction sequence whatever its
// position in a register tile (lane p % 8 of one accumulator sums p = l, l + 8, ... in order, the
// zero-padded tail is one more FMA, then a fixed reduction tree), so splitting rows or columns
// across calls or threads cannot change a bit. The results differ from generic only by the
// summation order.
#if defined(__x86_64__) || defined(_M_X64)
#include "x86_simd.h"
#include "../../kernel_table.h"
#include <math.h>
#include <string.h>

PRM_INLINE PRM_TARGET_AVX2 float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Mask of the first `count` (0..8) lanes, for maskload/maskstore.
PRM_INLINE PRM_TARGET_AVX2 __m256i first_lanes(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// ---------------------------------------------------------------------------------------------
// Dot-product GEMM: C[i][j] = Σ_p A[i][p] · B[j][p] for a tile of ROWS × COLS outputs. B is f32 or
// (linear_f16) IEEE half converted with vcvtph2ps. A's 8 values per step stay in registers; B's
// are loaded once per step and used by every row.

enum { DOT_ROWS = 3, DOT_COLS = 4 };

PRM_INLINE PRM_TARGET_AVX2 __m256 load_b8(const void *b, int half, int64_t p) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)b + p)));
    return _mm256_loadu_ps((const float *)b + p);
}

// B[p..k) zero-padded to 8 lanes (k - p < 8).
PRM_INLINE PRM_TARGET_AVX2 __m256 load_b_tail(const void *b, int half, int64_t p, int64_t k) {
    if (half) {
        uint16_t tmp[8] = {0};
        memcpy(tmp, (const uint16_t *)b + p, sizeof(uint16_t) * (size_t)(k - p));
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
    }
    return _mm256_maskload_ps((const float *)b + p, first_lanes(k - p));
}

PRM_INLINE PRM_TARGET_AVX2 void dot_tile(int rows, int cols, int half, const float *a, int64_t lda, const void *b,
                                         int64_t ldb, int64_t k, float out[DOT_ROWS][DOT_COLS]) {
    __m256 acc[DOT_ROWS][DOT_COLS];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) acc[r][c] = _mm256_setzero_ps();
    const size_t elem = half ? 2 : 4;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 bv[DOT_COLS];
        for (int c = 0; c < cols; c++) bv[c] = load_b8((const char *)b + (size_t)(c * ldb) * elem, half, p);
        for (int r = 0; r < rows; r++) {
            __m256 av = _mm256_loadu_ps(a + r * lda + p);
            for (int c = 0; c < cols; c++) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    if (p < k) {
        __m256i mask = first_lanes(k - p);
        __m256 bv[DOT_COLS];
        for (int c = 0; c < cols; c++) bv[c] = load_b_tail((const char *)b + (size_t)(c * ldb) * elem, half, p, k);
        for (int r = 0; r < rows; r++) {
            __m256 av = _mm256_maskload_ps(a + r * lda + p, mask);
            for (int c = 0; c < cols; c++) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) out[r][c] = hsum(acc[r][c]);
}

// Calls `dot_tile` over the m × [n_begin, n_end) outputs and applies y = alpha·sum + bias. Columns
// go in blocks whose B rows (~256 KB) stay in L2 while every row of A passes over them.
PRM_INLINE PRM_TARGET_AVX2 void dot_gemm(int half, int64_t m, int64_t n_begin, int64_t n_end, int64_t k,
                                         const float *a, int64_t lda, const void *b, int64_t ldb, float alpha,
                                         int scaled, const float *bias, float *c, int64_t ldc) {
    const size_t elem = half ? 2 : 4;
    int64_t col_block = (int64_t)(256 * 1024 / elem) / (k > 0 ? k : 1) / DOT_COLS * DOT_COLS;
    if (col_block < DOT_COLS) col_block = DOT_COLS;
    float out[DOT_ROWS][DOT_COLS];
    for (int64_t j0 = n_begin; j0 < n_end; j0 += col_block)
    for (int64_t i = 0; i < m; i += DOT_ROWS) {
        int rows = (int)(m - i < DOT_ROWS ? m - i : DOT_ROWS);
        int64_t j1 = j0 + col_block < n_end ? j0 + col_block : n_end;
        for (int64_t j = j0; j < j1; j += DOT_COLS) {
            int cols = (int)(j1 - j < DOT_COLS ? j1 - j : DOT_COLS);
            const float *ai = a + i * lda;
            const void *bj = (const char *)b + (size_t)(j * ldb) * elem;
            if (rows == DOT_ROWS && cols == DOT_COLS) {
                dot_tile(DOT_ROWS, DOT_COLS, half, ai, lda, bj, ldb, k, out);
            } else {
                // Edge tiles: one row or one column at a time keeps the number of specializations small.
                for (int r = 0; r < rows; r++)
                    for (int cc = 0; cc < cols; cc++) {
                        float one[DOT_ROWS][DOT_COLS];
                        dot_tile(1, 1, half, ai + r * lda, lda, (const char *)bj + (size_t)(cc * ldb) * elem, ldb, k, one);
                        out[r][cc] = one[0][0];
                    }
            }
            for (int r = 0; r < rows; r++)
                for (int cc = 0; cc < cols; cc++) {
                    float v = out[r][cc];
                    c[(i + r) * ldc + j + cc] = scaled ? alpha * v : v + (bias ? bias[j + cc] : 0.0f);
                }
        }
    }
}

PRM_TARGET_AVX2 static void linear_f32_avx2(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w,
                                            int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    dot_gemm(0, m, n_begin, n_end, k, x, ldx, w, k, 1.0f, 0, bias, y, ldy);
}

PRM_TARGET_AVX2 static void linear_f16_avx2(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w,
                                            int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    dot_gemm(1, m, n_begin, n_end, k, x, ldx, w, k, 1.0f, 0, bias, y, ldy);
}

PRM_TARGET_AVX2 static void sgemm_nt_avx2(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                                          const float *b, int64_t ldb, float *c, int64_t ldc) {
    dot_gemm(0, m, 0, n, k, a, lda, b, ldb, alpha, 1, NULL, c, ldc);
}

// ---------------------------------------------------------------------------------------------
// sgemm_nn: C[i][j..j+8) = Σ_p A[i][p] · B[p][j..j+8), an FMA chain in p order per element.

enum { NN_ROWS = 4, NN_VECS = 3 };

PRM_INLINE PRM_TARGET_AVX2 void nn_tile(int rows, int vecs, const float *a, int64_t lda, const float *b, int64_t ldb,
                                        int64_t k, float *c, int64_t ldc, int64_t width) {
    __m256 acc[NN_ROWS][NN_VECS];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) acc[r][v] = _mm256_setzero_ps();
    __m256i tail = first_lanes(width - 8 * (vecs - 1));  // lanes of the last vector inside C
    for (int64_t p = 0; p < k; p++) {
        __m256 bv[NN_VECS];
        for (int v = 0; v < vecs; v++)
            bv[v] = v == vecs - 1 ? _mm256_maskload_ps(b + p * ldb + 8 * v, tail) : _mm256_loadu_ps(b + p * ldb + 8 * v);
        for (int r = 0; r < rows; r++) {
            __m256 av = _mm256_broadcast_ss(a + r * lda + p);
            for (int v = 0; v < vecs; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) {
            if (v == vecs - 1) _mm256_maskstore_ps(c + r * ldc + 8 * v, tail, acc[r][v]);
            else _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
        }
}

PRM_TARGET_AVX2 static void sgemm_nn_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                          const float *b, int64_t ldb, float *c, int64_t ldc) {
    for (int64_t j = 0; j < n; j += 8 * NN_VECS) {
        int64_t width = n - j < 8 * NN_VECS ? n - j : 8 * NN_VECS;
        int vecs = (int)((width + 7) / 8);
        int64_t i = 0;
        for (; i + NN_ROWS <= m; i += NN_ROWS) {
            switch (vecs) {
            case 3: nn_tile(NN_ROWS, 3, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
            case 2: nn_tile(NN_ROWS, 2, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
            default: nn_tile(NN_ROWS, 1, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
            }
        }
        for (; i < m; i++) {
            switch (vecs) {
            case 3: nn_tile(1, 3, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
            case 2: nn_tile(1, 2, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
            default: nn_tile(1, 1, a + i * lda, lda, b + j, ldb, k, c + i * ldc + j, ldc, width); break;
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
    __m256i mask = first_lanes(n - j);
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
                __m256i mask = first_lanes(n - j);
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
        __m256i mask = first_lanes(count - i);
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
            __m256i mask = first_lanes(n - j);
            __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(row + j, mask), mv)), _mm256_castsi256_ps(mask));
            _mm256_maskstore_ps(row + j, mask, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
        for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
        if (j < n) {
            __m256i mask = first_lanes(n - j);
            _mm256_maskstore_ps(row + j, mask, _mm256_mul_ps(_mm256_maskload_ps(row + j, mask), inv));
        }
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
}

#endif
