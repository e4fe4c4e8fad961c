// AVX2 variants of the quantized kernels: activation quantization and the Q8_P16 / Q4_P16B32 GEMMs
// (Formats/prm-v1.md §6). Integer dot products are exact and the float epilogue uses the generic
// kernel's operations in the generic order, so the outputs are bit-identical to the reference.
#if defined(__x86_64__) || defined(_M_X64)
#include "x86_simd.h"
#include "../../kernel_table.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// 4 bytes broadcast to every 32-bit lane (a pure load; vbroadcastss and vpbroadcastd measured the
// same on Zen 3).
PRM_INLINE PRM_TARGET_AVX2 __m256i broadcast32(const void *p) {
    return _mm256_castps_si256(_mm256_broadcast_ss((const float *)p));
}

PRM_INLINE PRM_TARGET_AVX2 int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// ---------------------------------------------------------------------------------------------
// Activation quantization (bit-identical to generic: same scale, same products, same rounding).

// roundf: round half away from zero. v - trunc(v) is exact, so comparing it with 0.5 decides the
// tie the same way roundf does (adding 0.5 and truncating would not: 0.49999997 + 0.5 rounds to 1).
PRM_INLINE PRM_TARGET_AVX2 __m256 round_half_away(__m256 v) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 fraction = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
    __m256 away = _mm256_or_ps(_mm256_and_ps(v, sign_mask), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ), away));
}

// Loads x[j..j+8) with the lanes at or past k zeroed (the zero padding up to kp).
PRM_INLINE PRM_TARGET_AVX2 __m256 load_padded(const float *row, int64_t j, int64_t k) {
    if (j + 8 <= k) return _mm256_loadu_ps(row + j);
    if (j >= k) return _mm256_setzero_ps();
    return _mm256_maskload_ps(row + j, prm_first_lanes(k - j));
}

// round(v · inverse) clamped to ±limit (127 for int8 rows, 32767 for int16 rows), as int32 lanes.
PRM_INLINE PRM_TARGET_AVX2 __m256i quantize_lanes(__m256 v, __m256 inverse, float limit) {
    __m256 r = round_half_away(_mm256_mul_ps(v, inverse));
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-limit)), _mm256_set1_ps(limit));
    return _mm256_cvttps_epi32(r);
}

// max |row[j]| over j < k (the per-row scale of both activation quantizers).
PRM_INLINE PRM_TARGET_AVX2 float row_abs_max(const float *row, int64_t k) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 vmax = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= k; j += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(row + j), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float maximum = _mm_cvtss_f32(m4);
    for (; j < k; j++) maximum = fmaxf(maximum, fabsf(row[j]));
    return maximum;
}

PRM_TARGET_AVX2 static void quantize_activations_avx2(const float *x, int64_t m, int64_t k, int64_t ldx,
                                                      prm_q8_activations *out) {
    int64_t kp = out->kp;
    // packs interleaves 128-bit lanes; this puts the 32 bytes back in column order.
    const __m256i unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float scale = maximum / 127.0f;
        __m256 inverse = _mm256_set1_ps(prm_quantization_inverse(maximum, 127.0f));
        int8_t *q = out->q + i * kp;
        int32_t *block_sum = out->block_sum + i * (kp / PRM_BLOCK_COLUMNS);
        for (int64_t b = 0; b < kp / PRM_BLOCK_COLUMNS; b++) {
            int64_t j0 = PRM_BLOCK_COLUMNS * b;
            __m256i a = quantize_lanes(load_padded(row, j0, k), inverse, 127.0f);
            __m256i c = quantize_lanes(load_padded(row, j0 + 8, k), inverse, 127.0f);
            __m256i d = quantize_lanes(load_padded(row, j0 + 16, k), inverse, 127.0f);
            __m256i e = quantize_lanes(load_padded(row, j0 + 24, k), inverse, 127.0f);
            block_sum[b] = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(a, c), _mm256_add_epi32(d, e)));
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, c), _mm256_packs_epi32(d, e));
            _mm256_storeu_si256((__m256i *)(q + j0), _mm256_permutevar8x32_epi32(bytes, unshuffle));
        }
        out->scale[i] = scale;
    }
}

// ---------------------------------------------------------------------------------------------
// Shared GEMM driver pieces.

// Rows of X per Q4 register tile (one accumulator per row plus its int16 partial sums: 5 rows measured
// ~3% faster than 4, 6-7 no better). Row blocks: prm_row_block (kernel_common.h).
enum { Q4_ROWS = 5 };

// y[o] = (scale_x * scale_w[o]) * acc[o] + bias[o] for the 8 outputs starting at panel row `r0`,
// in the generic kernel's operation order (mul, mul, add; no FMA) so results match it exactly.
// Only outputs in [lo, hi) are written.
PRM_INLINE PRM_TARGET_AVX2 void store_outputs8(__m256 value, float *y, int64_t o0, int64_t lo, int64_t hi) {
    if (o0 >= lo && o0 + 8 <= hi) {
        _mm256_storeu_ps(y + o0, value);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, value);
    for (int64_t o = o0; o < o0 + 8; o++) {
        if (o >= lo && o < hi) y[o] = tmp[o - o0];
    }
}

PRM_INLINE PRM_TARGET_AVX2 __m256 load_bias8(const float *bias, int64_t o0, int64_t n) {
    if (!bias) return _mm256_setzero_ps();
    if (o0 + 8 <= n) return _mm256_loadu_ps(bias + o0);
    float tmp[8] = {0};
    for (int64_t o = o0; o < n; o++) tmp[o - o0] = bias[o];
    return _mm256_loadu_ps(tmp);
}

// ---------------------------------------------------------------------------------------------
// Q8_P16. AVX2 has no int8 dot product that both accumulates in int32 and takes two signed int8
// operands, and on Zen 3 every candidate costs one vector add per multiply instruction:
//   vpmaddubsw + sign trick (ggml): vpsignb, vpmaddubsw, vpmaddwd(1), vpaddd per 32 products; three
//     of the four run on the two integer-multiply pipes → ≈ 21 products/cycle (measured ~103 GOP/s).
//   vpmaddwd on int16: vpmaddwd, vpaddd per 16 products, two multiply-pipe uops per 32 products →
//     ≈ 26 products/cycle with the adds' pipe conflicts (measured ~135 GOP/s). This is used.
// Each 32-byte half of a panel group holds 8 output rows × 4 columns, one row per 32-bit lane. As
// int16 lanes the low byte of each pair is column 0/2 and the high byte column 1/3, so
//   even = (v << 8) >> 8 (arithmetic) = w[4g], w[4g+2]    odd = v >> 8 = w[4g+1], w[4g+3]
// and vpmaddwd of those with the row's activations broadcast as (x[4g], x[4g+2]) and
// (x[4g+1], x[4g+3]) leaves lane r = output r, so no horizontal reduction is needed. The
// activations are widened to that int16 order once per row block. Integer sums are exact, so the
// result equals the generic kernel's bit for bit (whatever the blocking).

enum { Q8_ROWS = 4 };  // 8 accumulators, 4 weight vectors, 2 activation pairs: no spills

// Row i of q (kp bytes) → kp int16: per group g, (x[4g], x[4g+2], x[4g+1], x[4g+3]).
PRM_TARGET_AVX2 static void q8_widen(const int8_t *q, int64_t ldq, int64_t rows, int64_t kp, int16_t *out) {
    const __m128i order = _mm_setr_epi8(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < kp; j += 16) {
            __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q + r * ldq + j)), order);
            _mm256_storeu_si256((__m256i *)(out + r * kp + j), _mm256_cvtepi8_epi16(v));
        }
}

// The activation pairs of row r, group g: from the widened rows, or (when the scratch buffer could
// not be allocated) from the int8 rows, widened in registers.
PRM_INLINE PRM_TARGET_AVX2 void q8_pairs(int widened, const void *xs, int64_t ld, int64_t g, __m256i *even,
                                         __m256i *odd) {
    if (widened) {
        const int16_t *xr = (const int16_t *)xs + PRM_GROUP_COLUMNS * g;
        *even = broadcast32(xr);
        *odd = broadcast32(xr + 2);
    } else {
        __m256i xb = broadcast32((const int8_t *)xs + PRM_GROUP_COLUMNS * g);
        *even = _mm256_srai_epi16(_mm256_slli_epi16(xb, 8), 8);
        *odd = _mm256_srai_epi16(xb, 8);
    }
    (void)ld;
}

PRM_INLINE PRM_TARGET_AVX2 void q8_tile(int rows, int widened, const void *xs, int64_t ldxs, const uint8_t *panel,
                                        int64_t groups, const float *sx, const float *bias, int64_t n, float *y,
                                        int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    const size_t elem = widened ? 2 : 1;
    __m256i acc[Q8_ROWS][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t g = 0; g < groups; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + PRM_GROUP_BYTES * g));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + PRM_GROUP_BYTES * g + 32));
        __m256i even0 = _mm256_srai_epi16(_mm256_slli_epi16(w0, 8), 8), odd0 = _mm256_srai_epi16(w0, 8);
        __m256i even1 = _mm256_srai_epi16(_mm256_slli_epi16(w1, 8), 8), odd1 = _mm256_srai_epi16(w1, 8);
        for (int r = 0; r < rows; r++) {
            __m256i xe, xo;
            q8_pairs(widened, (const char *)xs + (size_t)(r * ldxs) * elem, ldxs, g, &xe, &xo);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(even0, xe));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(even1, xe));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(odd0, xo));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(odd1, xo));
        }
    }
    const float *scale_w = (const float *)(panel + PRM_GROUP_BYTES * groups + PRM_Q8_P16_TAIL_SCALE_OFFSET);
    for (int h = 0; h < 2; h++) {
        __m256 sw = _mm256_loadu_ps(scale_w + 8 * h);
        __m256 b = load_bias8(bias, o0 + 8 * h, n);
        for (int r = 0; r < rows; r++) {
            // Generic: (scale_x * scale_w) * (float)acc + bias, not fused.
            __m256 v = PRM_ROUNDED(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(sx[r]), sw), _mm256_cvtepi32_ps(acc[r][h])));
            store_outputs8(_mm256_add_ps(v, b), y + r * ldy, o0 + 8 * h, lo, hi);
        }
    }
}

// All row tiles of rows [i0, i1) against one panel; xs/ldxs address row i0.
PRM_INLINE PRM_TARGET_AVX2 void q8_rows(int widened, const void *xs, int64_t ldxs, int64_t rows,
                                        const uint8_t *panel, int64_t groups, const float *sx, const float *bias,
                                        int64_t n, float *y, int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    const size_t elem = widened ? 2 : 1;
    int64_t i = 0;
#define Q8_TILE(R) q8_tile(R, widened, (const char *)xs + (size_t)(i * ldxs) * elem, ldxs, panel, groups, sx + i, bias, \
                           n, y + i * ldy, ldy, o0, lo, hi)
    for (; i + Q8_ROWS <= rows; i += Q8_ROWS) Q8_TILE(Q8_ROWS);
    switch (rows - i) {
    case 3: Q8_TILE(3); break;
    case 2: Q8_TILE(2); break;
    case 1: Q8_TILE(1); break;
    default: break;
    }
#undef Q8_TILE
}

PRM_TARGET_AVX2 static void linear_q8p16_avx2(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                              int64_t n_begin, int64_t n_end, const float *bias, float *y,
                                              int64_t ldy) {
    int64_t groups = prm_q8_p16_columns(k) / PRM_GROUP_COLUMNS, stride = prm_q8_p16_panel_bytes(k);
    int64_t m = x->m, kp = x->kp, block = prm_row_block(2 * kp, Q8_ROWS);
    if (m <= 0 || n_begin >= n_end) return;
    // Widened activations of one row block (≤ PRM_ROW_BLOCK_BYTES: they stay in L2 while the panels pass).
    int16_t *wide = malloc(sizeof(int16_t) * (size_t)((block < m ? block : m) * kp));
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t rows = i0 + block < m ? block : m - i0;
        if (wide) q8_widen(x->q + i0 * kp, kp, rows, kp, wide);
        for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
            const uint8_t *panel = w + p * stride;
            int64_t o0 = PRM_PANEL_ROWS * p;
            if (wide)
                q8_rows(1, wide, kp, rows, panel, groups, x->scale + i0, bias, n, y + i0 * ldy, ldy, o0, n_begin, n_end);
            else
                q8_rows(0, x->q + i0 * kp, kp, rows, panel, groups, x->scale + i0, bias, n, y + i0 * ldy, ldy, o0, n_begin, n_end);
        }
    }
    free(wide);
}

// ---------------------------------------------------------------------------------------------
// Q4_P16B32. The nibbles (0..15) are the unsigned operand of vpmaddubsw and the activations the
// signed one: a pair is at most 2 · 15 · 127, so even the 8 products of one block summed in int16
// (≤ 30480) cannot saturate. vpmaddwd by 1 then folds the pairs into one int32 per row. One half
// (8 rows) of a panel is processed at a time so the tile fits in the 16 ymm registers.

PRM_INLINE PRM_TARGET_AVX2 void q4_tile(int rows, const int8_t *q, int64_t ldq, const int32_t *block_sum,
                                        int64_t ldb, const uint8_t *panel, int64_t blocks, int half,
                                        const float *sx, const float *bias, int64_t n, float *y, int64_t ldy,
                                        int64_t o0, int64_t lo, int64_t hi) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[Q4_ROWS];
    for (int r = 0; r < rows; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = panel + PRM_Q4_P16B32_BLOCK_BYTES * b;
        __m256i pairs[Q4_ROWS];
        for (int r = 0; r < rows; r++) pairs[r] = _mm256_setzero_si256();
        for (int g = 0; g < PRM_Q4_P16B32_GROUPS; g++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(blk + PRM_GROUP_BYTES * g + 32 * half));
            __m256i wl = _mm256_and_si256(v, low_nibbles);
            __m256i wh = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
            for (int r = 0; r < rows; r++) {
                const int8_t *xr = q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_Q4_P16B32_GROUP_COLUMNS * g;
                __m256i pl = _mm256_maddubs_epi16(wl, _mm256_set1_epi32(prm_load_i32(xr)));
                __m256i ph = _mm256_maddubs_epi16(wh, _mm256_set1_epi32(prm_load_i32(xr + PRM_GROUP_COLUMNS)));
                pairs[r] = _mm256_add_epi16(pairs[r], _mm256_add_epi16(pl, ph));
            }
        }
        __m256 scale = _mm256_loadu_ps((const float *)(blk + PRM_Q4_P16B32_SCALE_OFFSET) + 8 * half);
        for (int r = 0; r < rows; r++) {
            __m256i dot = _mm256_madd_epi16(pairs[r], ones);
            dot = _mm256_sub_epi32(dot, _mm256_set1_epi32(PRM_Q4_P16B32_NIBBLE_OFFSET * block_sum[r * ldb + b]));
            // Generic: sum += scale * (float)acc, not fused.
            acc[r] = _mm256_add_ps(acc[r], PRM_ROUNDED(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(dot))));
        }
    }
    __m256 bv = load_bias8(bias, o0, n);
    for (int r = 0; r < rows; r++)
        store_outputs8(_mm256_add_ps(PRM_ROUNDED(_mm256_mul_ps(_mm256_set1_ps(sx[r]), acc[r])), bv), y + r * ldy, o0, lo, hi);
}

PRM_TARGET_AVX2 static void linear_q4p16b32_avx2(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                                 int64_t n_begin, int64_t n_end, const float *bias, float *y,
                                                 int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q4_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, ldb = x->kp / PRM_BLOCK_COLUMNS, block = prm_row_block(x->kp, Q4_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t o0 = n_begin / 8 * 8; o0 < n_end; o0 += 8) {
            const uint8_t *panel = w + (o0 / PRM_PANEL_ROWS) * stride;
            int half = (int)(o0 / 8 % 2);
            int64_t i = i0;
#define Q4_TILE(R) q4_tile(R, x->q + i * ldq, ldq, x->block_sum + i * ldb, ldb, panel, blocks, half, x->scale + i, \
                           bias, n, y + i * ldy, ldy, o0, n_begin, n_end)
            for (; i + Q4_ROWS <= i1; i += Q4_ROWS) Q4_TILE(Q4_ROWS);
            switch (i1 - i) {
            case 4: Q4_TILE(4); break;
            case 3: Q4_TILE(3); break;
            case 2: Q4_TILE(2); break;
            case 1: Q4_TILE(1); break;
            default: break;
            }
#undef Q4_TILE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// int16 activations (same rounding as quantize_activations_avx2, clamp ±32767).

PRM_TARGET_AVX2 static void quantize_activations_q16_avx2(const float *x, int64_t m, int64_t k, int64_t ldx,
                                                          prm_q16_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        __m256 inverse = _mm256_set1_ps(prm_quantization_inverse(maximum, 32767.0f));
        int16_t *q = out->q + i * kp;
        for (int64_t j0 = 0; j0 < kp; j0 += 16) {
            __m256i a = quantize_lanes(load_padded(row, j0, k), inverse, 32767.0f);
            __m256i c = quantize_lanes(load_padded(row, j0 + 8, k), inverse, 32767.0f);
            // packs interleaves 128-bit lanes (a0-3 c0-3 a4-7 c4-7); the permute restores column order.
            __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, c), 0xD8);
            _mm256_storeu_si256((__m256i *)(q + j0), words);
        }
        out->scale[i] = maximum / 32767.0f;
    }
}

// ---------------------------------------------------------------------------------------------
// Q8_P16B32 × int16 activations. The panel groups are Q8_P16's (16 rows × 4 columns, one row per
// 32-bit lane), so the even/odd trick of linear_q8p16_avx2 applies unchanged: the weights are
// sign-extended to int16 pairs (w[4g], w[4g+2]) and (w[4g+1], w[4g+3]) and vpmaddwd'ed with the
// activations broadcast in the same pair order, which a row block gets once into a scratch buffer
// (x[4g], x[4g+2], x[4g+1], x[4g+3]). Products are at most 127 · 32767 and a block's int32 sum at
// most 32 · 127 · 32767, so the int32 lanes are exact. After each block (8 groups) the dots become
// f32 and are folded in with one FMA per block (= generic's fmaf), then y = acc · scale_x + bias
// with a rounded product, as generic.

// One 8-output half of a panel at a time, so R int32 + R f32 accumulators, the half's even/odd
// weight vectors and one activation pair fit the 16 ymm registers (a whole panel × 4 rows needs 22
// and spilled). Measured on a loaded Zen 3 core: ~105-110 GOP/s for R = 4, 5 or 6 (whole panel × 4
// rows: ~95); Q8_P16's kernel ~120-130. The gap is the per-block int32 → f32 epilogue and the
// activation broadcasts, which serve 2 multiplies here instead of 4.
enum { Q8B_ROWS = 5 };

// How a tile reads its activation rows: int16 already in pair order (the scratch rows), or, when the
// scratch could not be allocated, plain int16 or int8 rows paired in registers.
enum { ROWS_PAIRED = 0, ROWS_INT16 = 1, ROWS_INT8 = 2 };

// The activation pairs (x[4g], x[4g+2]) and (x[4g+1], x[4g+3]) of the group starting at element `at`.
PRM_INLINE PRM_TARGET_AVX2 void q16_pairs(int mode, const void *row, int64_t at, __m256i *even, __m256i *odd) {
    if (mode == ROWS_PAIRED) {
        *even = broadcast32((const int16_t *)row + at);
        *odd = broadcast32((const int16_t *)row + at + 2);
    } else if (mode == ROWS_INT8) {
        __m256i xb = broadcast32((const int8_t *)row + at);
        *even = _mm256_srai_epi16(_mm256_slli_epi16(xb, 8), 8);
        *odd = _mm256_srai_epi16(xb, 8);
    } else {
        const int16_t *xg = (const int16_t *)row + at;
        *even = _mm256_set1_epi32(prm_pack_i16_pair(xg[0], xg[2]));
        *odd = _mm256_set1_epi32(prm_pack_i16_pair(xg[1], xg[3]));
    }
}

PRM_INLINE PRM_TARGET_AVX2 void q8b_tile(int rows, int mode, const void *xs, int64_t ldxs, const uint8_t *panel,
                                         int64_t blocks, const float *sx, const float *bias, int64_t n, float *y,
                                         int64_t ldy, int64_t o0, int64_t lo, int64_t hi) {
    for (int h = 0; h < 2; h++) {
        __m256 facc[Q8B_ROWS];
        for (int r = 0; r < rows; r++) facc[r] = _mm256_setzero_ps();
        for (int64_t b = 0; b < blocks; b++) {
            const uint8_t *blk = panel + PRM_Q8_P16B32_BLOCK_BYTES * b;
            __m256i acc[Q8B_ROWS];
            for (int r = 0; r < rows; r++) acc[r] = _mm256_setzero_si256();
            for (int g = 0; g < PRM_Q8_P16B32_GROUPS; g++) {
                __m256i wv = _mm256_loadu_si256((const __m256i *)(blk + PRM_GROUP_BYTES * g + 32 * h));
                __m256i even = _mm256_srai_epi16(_mm256_slli_epi16(wv, 8), 8), odd = _mm256_srai_epi16(wv, 8);
                for (int r = 0; r < rows; r++) {
                    __m256i xe, xo;
                    q16_pairs(mode, xs, r * ldxs + PRM_BLOCK_COLUMNS * b + PRM_GROUP_COLUMNS * g, &xe, &xo);
                    acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(even, xe));
                    acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(odd, xo));
                }
            }
            __m256 scale = _mm256_loadu_ps((const float *)(blk + PRM_Q8_P16B32_SCALE_OFFSET) + 8 * h);
            // Generic: acc = fmaf((float)dot, scale_w, acc).
            for (int r = 0; r < rows; r++) facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r]), scale, facc[r]);
        }
        __m256 bv = load_bias8(bias, o0 + 8 * h, n);
        for (int r = 0; r < rows; r++) {
            // Generic: acc * scale_x (rounded), then + bias.
            __m256 v = PRM_ROUNDED(_mm256_mul_ps(facc[r], _mm256_set1_ps(sx[r])));
            store_outputs8(_mm256_add_ps(v, bv), y + r * ldy, o0 + 8 * h, lo, hi);
        }
    }
}

// All panels of [n_begin, n_end) over `rows` activation rows read as `mode` (row stride kp).
PRM_TARGET_AVX2 static void q8b_row_block(int mode, const void *xs, int64_t kp, int64_t rows, const float *sx,
                                          const uint8_t *w, int64_t blocks, int64_t n, int64_t n_begin, int64_t n_end,
                                          const float *bias, float *y, int64_t ldy) {
    int64_t stride = blocks * PRM_Q8_P16B32_BLOCK_BYTES;
    for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
        const uint8_t *panel = w + p * stride;
        int64_t i = 0, o0 = PRM_PANEL_ROWS * p;
#define Q8B_TILE(R) q8b_tile(R, mode, mode == ROWS_INT8 ? (const void *)((const int8_t *)xs + i * kp)            \
                                                          : (const void *)((const int16_t *)xs + i * kp),         \
                             kp, panel, blocks, sx + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end)
        for (; i + Q8B_ROWS <= rows; i += Q8B_ROWS) Q8B_TILE(Q8B_ROWS);
        switch (rows - i) {
        case 5: Q8B_TILE(5); break;
        case 4: Q8B_TILE(4); break;
        case 3: Q8B_TILE(3); break;
        case 2: Q8B_TILE(2); break;
        case 1: Q8B_TILE(1); break;
        default: break;
        }
#undef Q8B_TILE
    }
}

PRM_TARGET_AVX2 static void linear_q8p16b32_avx2(const prm_q16_activations *x, int64_t k, const uint8_t *w,
                                                 int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                 float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k);
    int64_t m = x->m, kp = x->kp, block = prm_row_block(2 * kp, Q8B_ROWS);
    if (m <= 0 || n_begin >= n_end) return;
    // Reordered activations of one row block (≤ PRM_ROW_BLOCK_BYTES: they stay in L2 while the panels pass).
    int16_t *ordered = malloc(sizeof(int16_t) * (size_t)((block < m ? block : m) * kp));
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t rows = i0 + block < m ? block : m - i0;
        if (ordered) prm_q16_pair_order(x->q + i0 * kp, kp, rows, kp, ordered);
        q8b_row_block(ordered ? ROWS_PAIRED : ROWS_INT16, ordered ? ordered : x->q + i0 * kp, kp, rows, x->scale + i0, w,
                      blocks, n, n_begin, n_end, bias, y + i0 * ldy, ldy);
    }
    free(ordered);
}

// W8A8: without VNNI an exact int8 × int8 product costs what an int8 × int16 one does (see the
// Q8_P16 note above), so the int8 rows are widened into the same pair order and run through the
// int16 tile: the same speed as the q8 recipe on AVX2, and exact.
PRM_TARGET_AVX2 static void linear_q8p16b32_a8_avx2(const prm_q8_activations *x, int64_t k, const uint8_t *w,
                                                    int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                    float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k);
    int64_t m = x->m, kp = x->kp, block = prm_row_block(2 * kp, Q8B_ROWS);
    if (m <= 0 || n_begin >= n_end) return;
    int16_t *widened = malloc(sizeof(int16_t) * (size_t)((block < m ? block : m) * kp));
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t rows = i0 + block < m ? block : m - i0;
        if (widened) q8_widen(x->q + i0 * kp, kp, rows, kp, widened);
        q8b_row_block(widened ? ROWS_PAIRED : ROWS_INT8, widened ? (const void *)widened : (const void *)(x->q + i0 * kp),
                      kp, rows, x->scale + i0, w, blocks, n, n_begin, n_end, bias, y + i0 * ldy, ldy);
    }
    free(widened);
}

void prm_fill_avx2_quant(prm_kernel_table *t) {
    t->quantize_activations = quantize_activations_avx2;
    t->linear_q8p16 = linear_q8p16_avx2;
    t->linear_q4p16b32 = linear_q4p16b32_avx2;
    t->quantize_activations_q16 = quantize_activations_q16_avx2;
    t->linear_q8p16b32 = linear_q8p16b32_avx2;
    t->linear_q8p16b32_a8 = linear_q8p16b32_a8_avx2;
}

#endif
