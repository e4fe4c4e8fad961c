// AVX-512 VNNI variants of the quantized kernels: activation quantization and the Q8_P16 /
// Q4_P16B32 GEMMs on vpdpbusd (Formats/prm-v1.md §6). Integer dot products are exact and the float
// epilogue repeats the generic kernel's operations in its order, so outputs are bit-identical to it.
#if defined(__x86_64__) || defined(_M_X64)
#include "x86_simd.h"
#include "../../kernel_table.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// Lanes [lo, hi) of a 16-lane vector, clipped to 0..16.
static __mmask16 lane_mask(int64_t lo, int64_t hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// ---------------------------------------------------------------------------------------------
// Activation quantization (bit-identical to generic: same scale, same products, same rounding).

// roundf: round half away from zero; v - trunc(v) is exact, so the tie is decided as roundf does.
PRM_INLINE PRM_TARGET_AVX512 __m512 round_half_away(__m512 v) {
    const __m512i sign_mask = _mm512_set1_epi32((int)0x80000000u);
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 fraction = _mm512_abs_ps(_mm512_sub_ps(v, t));
    __m512i away = _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v), sign_mask),
                                   _mm512_castps_si512(_mm512_set1_ps(1.0f)));
    __mmask16 round_up = _mm512_cmp_ps_mask(fraction, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm512_mask_add_ps(t, round_up, t, _mm512_castsi512_ps(away));
}

// round(row[j..j+16) · inverse) clamped to ±limit (127 for int8 rows, 32767 for int16 rows), as
// int32 lanes; lanes at or past k are the zero padding up to kp.
PRM_INLINE PRM_TARGET_AVX512 __m512i quantize_lanes(const float *row, int64_t j, int64_t k, __m512 inverse,
                                                    float limit) {
    __m512 v = _mm512_maskz_loadu_ps(lane_mask(0, k - j), row + j);
    __m512 r = round_half_away(_mm512_mul_ps(v, inverse));
    r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-limit)), _mm512_set1_ps(limit));
    return _mm512_cvttps_epi32(r);
}

// max |row[j]| over j < k (the per-row scale of both activation quantizers).
PRM_INLINE PRM_TARGET_AVX512 float row_abs_max(const float *row, int64_t k) {
    __m512 vmax = _mm512_setzero_ps();
    for (int64_t j = 0; j < k; j += 16)
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(lane_mask(0, k - j), row + j)));
    return _mm512_reduce_max_ps(vmax);
}

PRM_TARGET_AVX512 static void quantize_activations_avx512(const float *x, int64_t m, int64_t k, int64_t ldx,
                                                          prm_q8_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float scale = maximum / 127.0f;
        __m512 inverse = _mm512_set1_ps(prm_quantization_inverse(maximum, 127.0f));
        int8_t *q = out->q + i * kp;
        int32_t *block_sum = out->block_sum + i * (kp / PRM_BLOCK_COLUMNS);
        for (int64_t b = 0; b < kp / PRM_BLOCK_COLUMNS; b++) {
            int64_t j0 = PRM_BLOCK_COLUMNS * b;
            __m512i lo = quantize_lanes(row, j0, k, inverse, 127.0f);
            __m512i hi = quantize_lanes(row, j0 + 16, k, inverse, 127.0f);
            block_sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(lo, hi));
            _mm_storeu_si128((__m128i *)(q + j0), _mm512_cvtsepi32_epi8(lo));
            _mm_storeu_si128((__m128i *)(q + j0 + 16), _mm512_cvtsepi32_epi8(hi));
        }
        out->scale[i] = scale;
    }
}

// ---------------------------------------------------------------------------------------------
// Shared GEMM driver pieces. A register tile is ROWS rows of X × PANELS 16-row weight panels; the
// row block (prm_row_block) keeps its activations in L2 while each panel's weights are reused across it.

enum { Q8_ROWS = 8, Q8_PANELS = 2, Q4_ROWS = 4, Q4_PANELS = 2 };

// Stores the outputs of one panel (16 outputs from o0) that fall in [lo, hi).
PRM_INLINE PRM_TARGET_AVX512 void store_panel(float *y, __m512 value, int64_t o0, int64_t lo, int64_t hi) {
    _mm512_mask_storeu_ps(y + o0, lane_mask(lo - o0, hi - o0), value);
}

PRM_INLINE PRM_TARGET_AVX512 __m512 load_bias(const float *bias, int64_t o0, int64_t n) {
    return bias ? _mm512_maskz_loadu_ps(lane_mask(0, n - o0), bias + o0) : _mm512_setzero_ps();
}

// ---------------------------------------------------------------------------------------------
// Q8_P16. vpdpbusd multiplies unsigned by signed bytes. The weights are made the unsigned operand
// (w ^ 0x80 = w + 128, one XOR per 64-byte group shared by all rows of the tile) and the activations
// stay signed, so they can be broadcast straight from memory ({1to16}) with no per-row fix-up;
// the extra 128 · Σ_k x[i][k] (the row's block sums) is subtracted once at the end. The panel's
// rowsum field would serve the mirror-image scheme (unsigned activations), which costs a XOR per
// row and group instead of per group.

PRM_INLINE PRM_TARGET_AVX512 void q8_tile(int rows, int panels, const int8_t *q, int64_t ldq, const int32_t *xsum,
                                          const uint8_t *w, int64_t stride, int64_t groups, const float *sx,
                                          const float *bias, int64_t n, float *y, int64_t ldy, int64_t o0,
                                          int64_t lo, int64_t hi) {
    const __m512i bias128 = _mm512_set1_epi8((char)0x80);
    __m512i acc[Q8_ROWS][Q8_PANELS];
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < panels; p++) acc[r][p] = _mm512_setzero_si512();
    for (int64_t g = 0; g < groups; g++) {
        __m512i wu[Q8_PANELS];
        for (int p = 0; p < panels; p++)
            wu[p] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(w + p * stride + PRM_GROUP_BYTES * g)), bias128);
        for (int r = 0; r < rows; r++) {
            __m512i xb = _mm512_set1_epi32(prm_load_i32(q + r * ldq + PRM_GROUP_COLUMNS * g));
            for (int p = 0; p < panels; p++) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], wu[p], xb);
        }
    }
    for (int p = 0; p < panels; p++) {
        const float *scale_w = (const float *)(w + p * stride + PRM_GROUP_BYTES * groups + PRM_Q8_P16_TAIL_SCALE_OFFSET);
        __m512 sw = _mm512_loadu_ps(scale_w);
        __m512 b = load_bias(bias, o0 + PRM_PANEL_ROWS * p, n);
        for (int r = 0; r < rows; r++) {
            __m512i dot = _mm512_sub_epi32(acc[r][p], _mm512_set1_epi32(128 * xsum[r]));
            // Generic: (scale_x * scale_w) * (float)acc + bias, unfused.
            __m512 v = PRM_ROUNDED(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(sx[r]), sw), _mm512_cvtepi32_ps(dot)));
            store_panel(y + r * ldy, _mm512_add_ps(v, b), o0 + PRM_PANEL_ROWS * p, lo, hi);
        }
    }
}

PRM_TARGET_AVX512 static void linear_q8p16_avx512(const prm_q8_activations *x, int64_t k, const uint8_t *w,
                                                  int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                  float *y, int64_t ldy) {
    int64_t groups = prm_q8_p16_columns(k) / PRM_GROUP_COLUMNS, stride = prm_q8_p16_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, ldb = x->kp / PRM_BLOCK_COLUMNS, block = prm_row_block(x->kp, Q8_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        int32_t xsum[Q8_ROWS];
        for (int64_t p0 = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p0 < n_end; p0 += Q8_PANELS) {
            int panels = PRM_PANEL_ROWS * (p0 + 1) < n_end ? 2 : 1;
            const uint8_t *wp = w + p0 * stride;
            int64_t o0 = PRM_PANEL_ROWS * p0;
            for (int64_t i = i0; i < i1; i += Q8_ROWS) {
                int rows = (int)(i1 - i < Q8_ROWS ? i1 - i : Q8_ROWS);
                for (int r = 0; r < rows; r++) {
                    const int32_t *bs = x->block_sum + (i + r) * ldb;
                    int32_t s = 0;
                    for (int64_t b = 0; b < ldb; b++) s += bs[b];
                    xsum[r] = s;
                }
#define Q8_TILE(R, P) q8_tile(R, P, x->q + i * ldq, ldq, xsum, wp, stride, groups, x->scale + i, bias, n, \
                              y + i * ldy, ldy, o0, n_begin, n_end)
#define Q8_ROWS_CASES(P)                         \
    switch (rows) {                              \
    case 8: Q8_TILE(8, P); break;                \
    case 7: Q8_TILE(7, P); break;                \
    case 6: Q8_TILE(6, P); break;                \
    case 5: Q8_TILE(5, P); break;                \
    case 4: Q8_TILE(4, P); break;                \
    case 3: Q8_TILE(3, P); break;                \
    case 2: Q8_TILE(2, P); break;                \
    default: Q8_TILE(1, P); break;               \
    }
                if (panels == 2) {
                    Q8_ROWS_CASES(2)
                } else {
                    Q8_ROWS_CASES(1)
                }
#undef Q8_ROWS_CASES
#undef Q8_TILE
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Q4_P16B32. The stored nibbles u = q + 8 are already unsigned: AND 0x0F / shift 4 unpack a
// 64-byte group into the two §6.2-style vectors for columns 8g..8g+3 and 8g+4..8g+7, and vpdpbusd
// takes them against the signed activations. The +8 is removed by starting each block's
// accumulator at -8 · block_sum, then the block's int32 dot is scaled into the float sum.

PRM_INLINE PRM_TARGET_AVX512 void q4_tile(int rows, int panels, const int8_t *q, int64_t ldq,
                                          const int32_t *block_sum, int64_t ldb, const uint8_t *w, int64_t stride,
                                          int64_t blocks, const float *sx, const float *bias, int64_t n, float *y,
                                          int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    __m512 facc[Q4_ROWS][Q4_PANELS];
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < panels; p++) facc[r][p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        __m512i acc[Q4_ROWS][Q4_PANELS];
        for (int r = 0; r < rows; r++) {
            __m512i start = _mm512_set1_epi32(-PRM_Q4_P16B32_NIBBLE_OFFSET * block_sum[r * ldb + b]);
            for (int p = 0; p < panels; p++) acc[r][p] = start;
        }
        for (int g = 0; g < PRM_Q4_P16B32_GROUPS; g++) {
            __m512i wl[Q4_PANELS], wh[Q4_PANELS];
            for (int p = 0; p < panels; p++) {
                const uint8_t *group = w + p * stride + PRM_Q4_P16B32_BLOCK_BYTES * b + PRM_GROUP_BYTES * g;
                __m512i v = _mm512_loadu_si512((const void *)group);
                wl[p] = _mm512_and_si512(v, low_nibbles);
                wh[p] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low_nibbles);
            }
            for (int r = 0; r < rows; r++) {
                const int8_t *xr = q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_Q4_P16B32_GROUP_COLUMNS * g;
                __m512i xl = _mm512_set1_epi32(prm_load_i32(xr)), xh = _mm512_set1_epi32(prm_load_i32(xr + PRM_GROUP_COLUMNS));
                for (int p = 0; p < panels; p++) {
                    acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], wl[p], xl);
                    acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], wh[p], xh);
                }
            }
        }
        for (int p = 0; p < panels; p++) {
            const uint8_t *scales = w + p * stride + PRM_Q4_P16B32_BLOCK_BYTES * b + PRM_Q4_P16B32_SCALE_OFFSET;
            __m512 scale = _mm512_loadu_ps((const float *)scales);
            // Generic: sum += scale * (float)acc, unfused.
            for (int r = 0; r < rows; r++)
                facc[r][p] = _mm512_add_ps(facc[r][p], PRM_ROUNDED(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(acc[r][p]))));
        }
    }
    for (int p = 0; p < panels; p++) {
        __m512 bv = load_bias(bias, o0 + PRM_PANEL_ROWS * p, n);
        for (int r = 0; r < rows; r++)
            store_panel(y + r * ldy, _mm512_add_ps(PRM_ROUNDED(_mm512_mul_ps(_mm512_set1_ps(sx[r]), facc[r][p])), bv),
                        o0 + PRM_PANEL_ROWS * p, lo, hi);
    }
}

PRM_TARGET_AVX512 static void linear_q4p16b32_avx512(const prm_q8_activations *x, int64_t k, const uint8_t *w,
                                                     int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                     float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q4_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, ldb = x->kp / PRM_BLOCK_COLUMNS, block = prm_row_block(x->kp, Q4_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p0 = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p0 < n_end; p0 += Q4_PANELS) {
            int panels = PRM_PANEL_ROWS * (p0 + 1) < n_end ? 2 : 1;
            const uint8_t *wp = w + p0 * stride;
            int64_t o0 = PRM_PANEL_ROWS * p0;
            for (int64_t i = i0; i < i1; i += Q4_ROWS) {
                int rows = (int)(i1 - i < Q4_ROWS ? i1 - i : Q4_ROWS);
#define Q4_TILE(R, P) q4_tile(R, P, x->q + i * ldq, ldq, x->block_sum + i * ldb, ldb, wp, stride, blocks, \
                              x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end)
#define Q4_ROWS_CASES(P)              \
    switch (rows) {                   \
    case 4: Q4_TILE(4, P); break;     \
    case 3: Q4_TILE(3, P); break;     \
    case 2: Q4_TILE(2, P); break;     \
    default: Q4_TILE(1, P); break;    \
    }
                if (panels == 2) {
                    Q4_ROWS_CASES(2)
                } else {
                    Q4_ROWS_CASES(1)
                }
#undef Q4_ROWS_CASES
#undef Q4_TILE
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// int16 activations (same rounding as quantize_activations_avx512, clamp ±32767).

PRM_TARGET_AVX512 static void quantize_activations_q16_avx512(const float *x, int64_t m, int64_t k, int64_t ldx,
                                                              prm_q16_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        __m512 inverse = _mm512_set1_ps(prm_quantization_inverse(maximum, 32767.0f));
        int16_t *q = out->q + i * kp;
        for (int64_t j = 0; j < kp; j += 16)
            _mm256_storeu_si256((__m256i *)(q + j), _mm512_cvtsepi32_epi16(quantize_lanes(row, j, k, inverse, 32767.0f)));
        out->scale[i] = maximum / 32767.0f;
    }
}

// ---------------------------------------------------------------------------------------------
// Q8_P16B32 × int16 activations on vpdpwssd (int16 pairs → int32, AVX512_VNNI). A 64-byte panel
// group is 16 rows × 4 columns, one row per 32-bit lane; as int16 lanes the weights split into
// (w[4g], w[4g+2]) = (v << 8) >> 8 and (w[4g+1], w[4g+3]) = v >> 8 (arithmetic), which vpdpwssd
// takes against the activation pairs (x[4g], x[4g+2]) and (x[4g+1], x[4g+3]) broadcast from a
// reordered copy of the row block. Block dots are exact int32; the float epilogue is generic's
// (one FMA per block, then a rounded multiply by scale_x and the bias add).

enum { Q8B_ROWS = 4, Q8B_PANELS = 2 };

// The Q8_P16B32 tiles' float side (both widths, two panels per tile): each block's int32 dots
// folded in with generic's fmaf(dot, scale_w, acc), and the end: acc * scale_x rounded, then + bias.
PRM_INLINE PRM_TARGET_AVX512 void fold_block(int rows, int panels, __m512 (*facc)[2], __m512i (*acc)[2],
                                             const uint8_t *w, int64_t stride, int64_t b) {
    for (int p = 0; p < panels; p++) {
        const uint8_t *scales = w + p * stride + PRM_Q8_P16B32_BLOCK_BYTES * b + PRM_Q8_P16B32_SCALE_OFFSET;
        __m512 scale = _mm512_loadu_ps((const float *)scales);
        for (int r = 0; r < rows; r++) facc[r][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][p]), scale, facc[r][p]);
    }
}

PRM_INLINE PRM_TARGET_AVX512 void store_tile(int rows, int panels, __m512 (*facc)[2], const float *sx, const float *bias,
                                             int64_t n, float *y, int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    for (int p = 0; p < panels; p++) {
        __m512 bv = load_bias(bias, o0 + PRM_PANEL_ROWS * p, n);
        for (int r = 0; r < rows; r++) {
            __m512 v = PRM_ROUNDED(_mm512_mul_ps(facc[r][p], _mm512_set1_ps(sx[r])));
            store_panel(y + r * ldy, _mm512_add_ps(v, bv), o0 + PRM_PANEL_ROWS * p, lo, hi);
        }
    }
}

// The activation pairs of one group: from the reordered scratch rows (prm_q16_pair_order, x86_simd.h),
// or (when the scratch could not be allocated) assembled from the plain int16 row.
PRM_INLINE PRM_TARGET_AVX512 void q16_pairs(int ordered, const int16_t *xg, __m512i *even, __m512i *odd) {
    if (ordered) {
        *even = _mm512_set1_epi32(prm_load_i32(xg));
        *odd = _mm512_set1_epi32(prm_load_i32(xg + 2));
    } else {
        *even = _mm512_set1_epi32(prm_pack_i16_pair(xg[0], xg[2]));
        *odd = _mm512_set1_epi32(prm_pack_i16_pair(xg[1], xg[3]));
    }
}

PRM_INLINE PRM_TARGET_AVX512 void q8b_tile(int rows, int panels, int ordered, const int16_t *xs, int64_t ldxs, const uint8_t *w,
                                           int64_t stride, int64_t blocks, const float *sx, const float *bias,
                                           int64_t n, float *y, int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    __m512 facc[Q8B_ROWS][Q8B_PANELS];
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < panels; p++) facc[r][p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        __m512i acc[Q8B_ROWS][Q8B_PANELS];
        for (int r = 0; r < rows; r++)
            for (int p = 0; p < panels; p++) acc[r][p] = _mm512_setzero_si512();
        for (int g = 0; g < PRM_Q8_P16B32_GROUPS; g++) {
            __m512i even[Q8B_PANELS], odd[Q8B_PANELS];
            for (int p = 0; p < panels; p++) {
                const uint8_t *group = w + p * stride + PRM_Q8_P16B32_BLOCK_BYTES * b + PRM_GROUP_BYTES * g;
                __m512i v = _mm512_loadu_si512((const void *)group);
                even[p] = _mm512_srai_epi16(_mm512_slli_epi16(v, 8), 8);
                odd[p] = _mm512_srai_epi16(v, 8);
            }
            for (int r = 0; r < rows; r++) {
                __m512i xe, xo;
                q16_pairs(ordered, xs + r * ldxs + PRM_BLOCK_COLUMNS * b + PRM_GROUP_COLUMNS * g, &xe, &xo);
                for (int p = 0; p < panels; p++) {
                    acc[r][p] = _mm512_dpwssd_epi32(acc[r][p], even[p], xe);
                    acc[r][p] = _mm512_dpwssd_epi32(acc[r][p], odd[p], xo);
                }
            }
        }
        fold_block(rows, panels, facc, acc, w, stride, b);
    }
    store_tile(rows, panels, facc, sx, bias, n, y, ldy, o0, lo, hi);
}

PRM_TARGET_AVX512 static void linear_q8p16b32_avx512(const prm_q16_activations *x, int64_t k, const uint8_t *w,
                                                     int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                     float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q8_p16b32_panel_bytes(k);
    int64_t m = x->m, kp = x->kp, block = prm_row_block(2 * kp, Q8B_ROWS);
    if (m <= 0 || n_begin >= n_end) return;
    int16_t *ordered = malloc(sizeof(int16_t) * (size_t)((block < m ? block : m) * kp));
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        if (ordered) prm_q16_pair_order(x->q + i0 * kp, kp, i1 - i0, kp, ordered);
        const int16_t *xs = ordered ? ordered : x->q + i0 * kp;
        for (int64_t p0 = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p0 < n_end; p0 += Q8B_PANELS) {
            int panels = PRM_PANEL_ROWS * (p0 + 1) < n_end ? 2 : 1;
            const uint8_t *wp = w + p0 * stride;
            int64_t o0 = PRM_PANEL_ROWS * p0;
            for (int64_t i = i0; i < i1; i += Q8B_ROWS) {
                int rows = (int)(i1 - i < Q8B_ROWS ? i1 - i : Q8B_ROWS);
#define Q8B_TILE(R, P) q8b_tile(R, P, ordered != NULL, xs + (i - i0) * kp, kp, wp, stride, blocks, x->scale + i, bias, n, \
                                y + i * ldy, ldy, o0, n_begin, n_end)
#define Q8B_ROWS_CASES(P)              \
    switch (rows) {                    \
    case 4: Q8B_TILE(4, P); break;     \
    case 3: Q8B_TILE(3, P); break;     \
    case 2: Q8B_TILE(2, P); break;     \
    default: Q8B_TILE(1, P); break;    \
    }
                if (panels == 2) {
                    Q8B_ROWS_CASES(2)
                } else {
                    Q8B_ROWS_CASES(1)
                }
#undef Q8B_ROWS_CASES
#undef Q8B_TILE
            }
        }
    }
    free(ordered);
}

// ---------------------------------------------------------------------------------------------
// Q8_P16B32 × int8 activations (W8A8) on vpdpbusd: twice vpdpwssd's multiplies per instruction.
// vpdpbusd takes unsigned × signed bytes, so the weights become the unsigned operand (w ^ 0x80 =
// w + 128: one XOR per 64-byte group, shared by every row of the tile) and the activations are
// broadcast as they are. Each block's accumulator starts at -128 · Σ_block x, which cancels the
// +128 exactly, so the block dot is generic's int32; the float epilogue is generic's too (one FMA
// per block, then a rounded multiply by scale_x and the bias add): bit-identical.
//
// The tile is A8_ROWS × A8_PANELS: 12 int32 + 12 f32 accumulators, the tile's weight vectors and
// one activation broadcast fit the 32 zmm registers.

enum { A8_ROWS = 6, A8_PANELS = 2 };

PRM_INLINE PRM_TARGET_AVX512 void a8_tile(int rows, int panels, const int8_t *q, int64_t ldq, const int32_t *block_sum,
                                          int64_t blocks, const uint8_t *w, int64_t stride, const float *sx,
                                          const float *bias, int64_t n, float *y, int64_t ldy, int64_t o0, int64_t lo,
                                          int64_t hi) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512 facc[A8_ROWS][A8_PANELS];
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < panels; p++) facc[r][p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        __m512i acc[A8_ROWS][A8_PANELS];
        for (int r = 0; r < rows; r++) {
            __m512i s = _mm512_set1_epi32(-128 * block_sum[r * (ldq / PRM_BLOCK_COLUMNS) + b]);
            for (int p = 0; p < panels; p++) acc[r][p] = s;
        }
        for (int g = 0; g < PRM_Q8_P16B32_GROUPS; g++) {
            __m512i wu[A8_PANELS];
            for (int p = 0; p < panels; p++) {
                const uint8_t *group = w + p * stride + PRM_Q8_P16B32_BLOCK_BYTES * b + PRM_GROUP_BYTES * g;
                wu[p] = _mm512_xor_si512(_mm512_loadu_si512((const void *)group), flip);
            }
            for (int r = 0; r < rows; r++) {
                __m512i xb = _mm512_set1_epi32(prm_load_i32(q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_GROUP_COLUMNS * g));
                for (int p = 0; p < panels; p++) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], wu[p], xb);
            }
        }
        fold_block(rows, panels, facc, acc, w, stride, b);
    }
    store_tile(rows, panels, facc, sx, bias, n, y, ldy, o0, lo, hi);
}

PRM_TARGET_AVX512 static void linear_q8p16b32_a8_avx512(const prm_q8_activations *x, int64_t k, const uint8_t *w,
                                                        int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                        float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q8_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, ldb = x->kp / PRM_BLOCK_COLUMNS;
    if (m <= 0 || n_begin >= n_end) return;
    int64_t block = prm_row_block(x->kp, A8_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p0 = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p0 < n_end; p0 += A8_PANELS) {
            int64_t left = (n_end - PRM_PANEL_ROWS * p0 + PRM_PANEL_ROWS - 1) / PRM_PANEL_ROWS;
            int panels = (int)(left < A8_PANELS ? left : A8_PANELS);
            const uint8_t *wp = w + p0 * stride;
            int64_t o0 = PRM_PANEL_ROWS * p0;
            for (int64_t i = i0; i < i1; i += A8_ROWS) {
                int rows = (int)(i1 - i < A8_ROWS ? i1 - i : A8_ROWS);
#define A8_TILE(R, P) a8_tile(R, P, x->q + i * ldq, ldq, x->block_sum + i * ldb, blocks, wp, stride, x->scale + i, bias, n, y + i * ldy, \
                              ldy, o0, n_begin, n_end)
#define A8_ROWS_CASES(P)              \
    switch (rows) {                   \
    case 6: A8_TILE(6, P); break;     \
    case 5: A8_TILE(5, P); break;     \
    case 4: A8_TILE(4, P); break;     \
    case 3: A8_TILE(3, P); break;     \
    case 2: A8_TILE(2, P); break;     \
    default: A8_TILE(1, P); break;    \
    }
                if (panels == 2) {
                    A8_ROWS_CASES(2)
                } else {
                    A8_ROWS_CASES(1)
                }
#undef A8_ROWS_CASES
#undef A8_TILE
            }
        }
    }
}

void prm_fill_avx512_vnni_quant(prm_kernel_table *t) {
    t->quantize_activations = quantize_activations_avx512;
    t->linear_q8p16 = linear_q8p16_avx512;
    t->linear_q4p16b32 = linear_q4p16b32_avx512;
    t->quantize_activations_q16 = quantize_activations_q16_avx512;
    t->linear_q8p16b32 = linear_q8p16b32_avx512;
    t->linear_q8p16b32_a8 = linear_q8p16b32_a8_avx512;
}

#endif
