// NEON + dotprod (sdot) variants of the quantized kernels: activation quantization and the Q8_P16 /
// Q4_P16B32 GEMMs (Formats/prm-v1.md §6). sdot multiplies signed by signed bytes, so neither
// operand needs an offset: a 16-byte quarter of a panel group is 4 rows × 4 columns, one lane per
// row. Integer dot products are exact; the float epilogue fuses the generic code's `a * b + c` into
// FMAs (whether the compiler contracts the generic code is its choice), so outputs equal generic up
// to the rounding of those products.
#if defined(__aarch64__)
#include "../../kernel_table.h"
#include "../../internal/kernel_common.h"
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#define PRM_TARGET_DOTPROD __attribute__((target("dotprod")))
#else
#define PRM_TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))  // what GCC's arm_neon.h requires
#endif

PRM_INLINE int8x16_t broadcast4(const int8_t *p) { return vreinterpretq_s8_s32(vdupq_n_s32(prm_load_i32(p))); }

// ---------------------------------------------------------------------------------------------
// Activation quantization: vcvtaq rounds half away from zero, exactly roundf.

// round(row[j..j+4) · inverse) clamped to ±limit (127 for int8 rows, 32767 for int16 rows).
PRM_INLINE int32x4_t quantize4(const float *row, int64_t j, int64_t k, float32x4_t inverse, int32_t limit) {
    float32x4_t v;
    if (j + 4 <= k) {
        v = vld1q_f32(row + j);
    } else {
        float tmp[4] = {0};
        for (int64_t l = j; l < k; l++) tmp[l - j] = row[l];  // zero padding past k
        v = vld1q_f32(tmp);
    }
    int32x4_t q = vcvtaq_s32_f32(vmulq_f32(v, inverse));
    return vminq_s32(vmaxq_s32(q, vdupq_n_s32(-limit)), vdupq_n_s32(limit));
}

// max |row[j]| over j < k (the per-row scale of both activation quantizers).
PRM_INLINE float row_abs_max(const float *row, int64_t k) {
    float32x4_t vmax = vdupq_n_f32(0);
    int64_t j = 0;
    for (; j + 4 <= k; j += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(row + j)));
    float maximum = vmaxvq_f32(vmax);
    for (; j < k; j++) maximum = fmaxf(maximum, fabsf(row[j]));
    return maximum;
}

static void quantize_activations_neon(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q8_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float scale = maximum / 127.0f;
        float32x4_t inverse = vdupq_n_f32(prm_quantization_inverse(maximum, 127.0f));
        int8_t *q = out->q + i * kp;
        int32_t *block_sum = out->block_sum + i * (kp / PRM_BLOCK_COLUMNS);
        for (int64_t b = 0; b < kp / PRM_BLOCK_COLUMNS; b++) {
            int32x4_t sum = vdupq_n_s32(0);
            for (int h = 0; h < 2; h++) {
                int64_t j0 = PRM_BLOCK_COLUMNS * b + 16 * h;
                int32x4_t a = quantize4(row, j0, k, inverse, 127), c = quantize4(row, j0 + 4, k, inverse, 127);
                int32x4_t d = quantize4(row, j0 + 8, k, inverse, 127), e = quantize4(row, j0 + 12, k, inverse, 127);
                sum = vaddq_s32(sum, vaddq_s32(vaddq_s32(a, c), vaddq_s32(d, e)));
                int16x8_t lo = vcombine_s16(vmovn_s32(a), vmovn_s32(c)), hi = vcombine_s16(vmovn_s32(d), vmovn_s32(e));
                vst1q_s8(q + j0, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
            }
            block_sum[b] = vaddvq_s32(sum);
        }
        out->scale[i] = scale;
    }
}

// ---------------------------------------------------------------------------------------------
// GEMM drivers: register tiles of ROWS rows × one 16-row panel, over row blocks (prm_row_block) whose
// activations stay in L2 while a panel's weights are reused.

enum { Q8_ROWS = 4, Q4_ROWS = 2 };

PRM_INLINE float32x4_t load_bias4(const float *bias, int64_t o0, int64_t n) {
    if (!bias) return vdupq_n_f32(0);
    if (o0 + 4 <= n) return vld1q_f32(bias + o0);
    float tmp[4] = {0};
    for (int64_t o = o0; o < n; o++) tmp[o - o0] = bias[o];
    return vld1q_f32(tmp);
}

// Writes the outputs o0..o0+4 that fall in [lo, hi).
PRM_INLINE void store4(float *y, float32x4_t v, int64_t o0, int64_t lo, int64_t hi) {
    if (o0 >= lo && o0 + 4 <= hi) {
        vst1q_f32(y + o0, v);
        return;
    }
    float tmp[4];
    vst1q_f32(tmp, v);
    for (int64_t o = o0; o < o0 + 4; o++) {
        if (o >= lo && o < hi) y[o] = tmp[o - o0];
    }
}

PRM_INLINE PRM_TARGET_DOTPROD void q8_tile(int rows, const int8_t *q, int64_t ldq, const uint8_t *panel, int64_t groups,
                                           const float *sx, const float *bias, int64_t n, float *y, int64_t ldy,
                                           int64_t o0, int64_t lo, int64_t hi) {
    int32x4_t acc[Q8_ROWS][4];
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < 4; s++) acc[r][s] = vdupq_n_s32(0);
    for (int64_t g = 0; g < groups; g++) {
        int8x16_t wv[4];
        for (int s = 0; s < 4; s++) wv[s] = vld1q_s8((const int8_t *)panel + PRM_GROUP_BYTES * g + 16 * s);
        for (int r = 0; r < rows; r++) {
            int8x16_t xb = broadcast4(q + r * ldq + PRM_GROUP_COLUMNS * g);
            for (int s = 0; s < 4; s++) acc[r][s] = vdotq_s32(acc[r][s], wv[s], xb);
        }
    }
    const float *scale_w = (const float *)(panel + PRM_GROUP_BYTES * groups + PRM_Q8_P16_TAIL_SCALE_OFFSET);
    for (int s = 0; s < 4; s++) {
        float32x4_t sw = vld1q_f32(scale_w + 4 * s), b = load_bias4(bias, o0 + 4 * s, n);
        for (int r = 0; r < rows; r++) {
            float32x4_t v = vfmaq_f32(b, vmulq_n_f32(sw, sx[r]), vcvtq_f32_s32(acc[r][s]));
            store4(y + r * ldy, v, o0 + 4 * s, lo, hi);
        }
    }
}

PRM_TARGET_DOTPROD static void linear_q8p16_neon(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                                 int64_t n_begin, int64_t n_end, const float *bias, float *y,
                                                 int64_t ldy) {
    int64_t groups = prm_q8_p16_columns(k) / PRM_GROUP_COLUMNS, stride = prm_q8_p16_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, block = prm_row_block(x->kp, Q8_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
            const uint8_t *panel = w + p * stride;
            int64_t o0 = PRM_PANEL_ROWS * p;
            for (int64_t i = i0; i < i1; i += Q8_ROWS) {
#define Q8_TILE(R) q8_tile(R, x->q + i * ldq, ldq, panel, groups, x->scale + i, bias, n, y + i * ldy, ldy, o0, \
                           n_begin, n_end)
                switch (i1 - i < Q8_ROWS ? i1 - i : Q8_ROWS) {
                case 4: Q8_TILE(4); break;
                case 3: Q8_TILE(3); break;
                case 2: Q8_TILE(2); break;
                default: Q8_TILE(1); break;
                }
#undef Q8_TILE
            }
        }
    }
}

// Q4_P16B32: the nibbles u = q + 8 (0..15) are valid signed bytes, so sdot takes them as they are;
// each block's accumulator starts at -8 · block_sum to remove the offset.
PRM_INLINE PRM_TARGET_DOTPROD void q4_tile(int rows, const int8_t *q, int64_t ldq, const int32_t *block_sum,
                                           int64_t ldb, const uint8_t *panel, int64_t blocks, const float *sx,
                                           const float *bias, int64_t n, float *y, int64_t ldy, int64_t o0,
                                           int64_t lo, int64_t hi) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    float32x4_t facc[Q4_ROWS][4];
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < 4; s++) facc[r][s] = vdupq_n_f32(0);
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = panel + PRM_Q4_P16B32_BLOCK_BYTES * b;
        int32x4_t acc[Q4_ROWS][4];
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < 4; s++) acc[r][s] = vdupq_n_s32(-PRM_Q4_P16B32_NIBBLE_OFFSET * block_sum[r * ldb + b]);
        for (int g = 0; g < PRM_Q4_P16B32_GROUPS; g++) {
            int8x16_t wl[4], wh[4];
            for (int s = 0; s < 4; s++) {
                uint8x16_t v = vld1q_u8(blk + PRM_GROUP_BYTES * g + 16 * s);
                wl[s] = vreinterpretq_s8_u8(vandq_u8(v, low_nibbles));
                wh[s] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
            }
            for (int r = 0; r < rows; r++) {
                const int8_t *xr = q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_Q4_P16B32_GROUP_COLUMNS * g;
                int8x16_t xl = broadcast4(xr), xh = broadcast4(xr + PRM_GROUP_COLUMNS);
                for (int s = 0; s < 4; s++) acc[r][s] = vdotq_s32(vdotq_s32(acc[r][s], wl[s], xl), wh[s], xh);
            }
        }
        const float *scale = (const float *)(blk + PRM_Q4_P16B32_SCALE_OFFSET);
        for (int s = 0; s < 4; s++) {
            float32x4_t sv = vld1q_f32(scale + 4 * s);
            for (int r = 0; r < rows; r++) facc[r][s] = vfmaq_f32(facc[r][s], sv, vcvtq_f32_s32(acc[r][s]));
        }
    }
    for (int s = 0; s < 4; s++) {
        float32x4_t bv = load_bias4(bias, o0 + 4 * s, n);
        for (int r = 0; r < rows; r++) store4(y + r * ldy, vfmaq_n_f32(bv, facc[r][s], sx[r]), o0 + 4 * s, lo, hi);
    }
}

PRM_TARGET_DOTPROD static void linear_q4p16b32_neon(const prm_q8_activations *x, int64_t k, const uint8_t *w,
                                                    int64_t n, int64_t n_begin, int64_t n_end, const float *bias,
                                                    float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q4_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, ldb = x->kp / PRM_BLOCK_COLUMNS, block = prm_row_block(x->kp, Q4_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
            const uint8_t *panel = w + p * stride;
            int64_t i = i0, o0 = PRM_PANEL_ROWS * p;
            for (; i + Q4_ROWS <= i1; i += Q4_ROWS)
                q4_tile(Q4_ROWS, x->q + i * ldq, ldq, x->block_sum + i * ldb, ldb, panel, blocks, x->scale + i, bias, n,
                        y + i * ldy, ldy, o0, n_begin, n_end);
            if (i < i1)
                q4_tile(1, x->q + i * ldq, ldq, x->block_sum + i * ldb, ldb, panel, blocks, x->scale + i, bias, n,
                        y + i * ldy, ldy, o0, n_begin, n_end);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// int16 activations: vcvtaq (round half away from zero, exactly roundf) of x · (32767 / max), the
// int8 quantizer's rounding with the ±32767 clamp.

static void quantize_activations_q16_neon(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q16_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float32x4_t inverse = vdupq_n_f32(prm_quantization_inverse(maximum, 32767.0f));
        int16_t *q = out->q + i * kp;
        for (int64_t j0 = 0; j0 < kp; j0 += 8) {
            int32x4_t a = quantize4(row, j0, k, inverse, 32767), c = quantize4(row, j0 + 4, k, inverse, 32767);
            vst1q_s16(q + j0, vcombine_s16(vmovn_s32(a), vmovn_s32(c)));
        }
        out->scale[i] = maximum / 32767.0f;
    }
}

// ---------------------------------------------------------------------------------------------
// Q8_P16B32 × int16 activations (plain NEON: smull/smlal). A 16-byte quarter of a panel group is
// 4 rows × 4 columns; as int16 lanes it splits into (w[4g], w[4g+2]) = (v << 8) >> 8 and
// (w[4g+1], w[4g+3]) = v >> 8 per row, which multiply the activation pairs (x[4g], x[4g+2]) and
// (x[4g+1], x[4g+3]) broadcast per 32-bit lane. The low/high int32 halves hold two partial sums
// per row (rows 0-1 / 2-3 of the quarter); addp folds them into one lane per row at the end of
// each block. All integer sums are exact; the float epilogue is generic's (vfmaq = fmaf per block,
// then a rounded multiply by scale_x and the bias add, kept unfused by PRM_ROUNDED's empty asm).

enum { Q8B_ROWS = 2 };

PRM_INLINE void q8b_tile(int rows, const int16_t *q, int64_t ldq, const uint8_t *panel, int64_t blocks,
                         const float *sx, const float *bias, int64_t n, float *y, int64_t ldy, int64_t o0, int64_t lo,
                         int64_t hi) {
    float32x4_t facc[Q8B_ROWS][4];
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < 4; s++) facc[r][s] = vdupq_n_f32(0);
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = panel + PRM_Q8_P16B32_BLOCK_BYTES * b;
        int32x4_t lo_acc[Q8B_ROWS][4], hi_acc[Q8B_ROWS][4];
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < 4; s++) lo_acc[r][s] = hi_acc[r][s] = vdupq_n_s32(0);
        for (int g = 0; g < PRM_Q8_P16B32_GROUPS; g++) {
            int16x8_t even[4], odd[4];
            for (int s = 0; s < 4; s++) {
                int16x8_t v = vreinterpretq_s16_s8(vld1q_s8((const int8_t *)blk + PRM_GROUP_BYTES * g + 16 * s));
                even[s] = vshrq_n_s16(vshlq_n_s16(v, 8), 8);
                odd[s] = vshrq_n_s16(v, 8);
            }
            for (int r = 0; r < rows; r++) {
                const int16_t *xg = q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_GROUP_COLUMNS * g;
                int16x8_t xe = vreinterpretq_s16_s32(vdupq_n_s32(prm_pack_i16_pair(xg[0], xg[2])));
                int16x8_t xo = vreinterpretq_s16_s32(vdupq_n_s32(prm_pack_i16_pair(xg[1], xg[3])));
                for (int s = 0; s < 4; s++) {
                    lo_acc[r][s] = vmlal_s16(lo_acc[r][s], vget_low_s16(even[s]), vget_low_s16(xe));
                    lo_acc[r][s] = vmlal_s16(lo_acc[r][s], vget_low_s16(odd[s]), vget_low_s16(xo));
                    hi_acc[r][s] = vmlal_high_s16(hi_acc[r][s], even[s], xe);
                    hi_acc[r][s] = vmlal_high_s16(hi_acc[r][s], odd[s], xo);
                }
            }
        }
        const float *scale = (const float *)(blk + PRM_Q8_P16B32_SCALE_OFFSET);
        for (int s = 0; s < 4; s++) {
            float32x4_t sv = vld1q_f32(scale + 4 * s);
            for (int r = 0; r < rows; r++) {
                int32x4_t dot = vpaddq_s32(lo_acc[r][s], hi_acc[r][s]);  // rows 4s..4s+3
                facc[r][s] = vfmaq_f32(facc[r][s], vcvtq_f32_s32(dot), sv);
            }
        }
    }
    for (int s = 0; s < 4; s++) {
        float32x4_t bv = load_bias4(bias, o0 + 4 * s, n);
        for (int r = 0; r < rows; r++)
            store4(y + r * ldy, vaddq_f32(PRM_ROUNDED(vmulq_n_f32(facc[r][s], sx[r])), bv), o0 + 4 * s, lo, hi);
    }
}

static void linear_q8p16b32_neon(const prm_q16_activations *x, int64_t k, const uint8_t *w, int64_t n, int64_t n_begin,
                                 int64_t n_end, const float *bias, float *y, int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q8_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, block = prm_row_block(2 * x->kp, Q8B_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
            const uint8_t *panel = w + p * stride;
            int64_t i = i0, o0 = PRM_PANEL_ROWS * p;
            for (; i + Q8B_ROWS <= i1; i += Q8B_ROWS)
                q8b_tile(Q8B_ROWS, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0,
                         n_begin, n_end);
            if (i < i1)
                q8b_tile(1, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin,
                         n_end);
        }
    }
}

// Q8_P16B32 × int8 activations (W8A8) on sdot: a 16-byte quarter of a panel group (4 rows × 4
// columns) against the row's 4 activations broadcast per lane gives each row's 4-column dot in its
// lane, with no offset and no pairing. Block dots are exact int32; the epilogue is q8b_tile's.

enum { A8_ROWS = 4 };

PRM_INLINE PRM_TARGET_DOTPROD void a8_tile(int rows, const int8_t *q, int64_t ldq, const uint8_t *panel, int64_t blocks,
                                           const float *sx, const float *bias, int64_t n, float *y, int64_t ldy,
                                           int64_t o0, int64_t lo, int64_t hi) {
    float32x4_t facc[A8_ROWS][4];
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < 4; s++) facc[r][s] = vdupq_n_f32(0);
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = panel + PRM_Q8_P16B32_BLOCK_BYTES * b;
        int32x4_t acc[A8_ROWS][4];
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < 4; s++) acc[r][s] = vdupq_n_s32(0);
        for (int g = 0; g < PRM_Q8_P16B32_GROUPS; g++) {
            int8x16_t wq[4];
            for (int s = 0; s < 4; s++) wq[s] = vld1q_s8((const int8_t *)blk + PRM_GROUP_BYTES * g + 16 * s);
            for (int r = 0; r < rows; r++) {
                int8x16_t xb = broadcast4(q + r * ldq + PRM_BLOCK_COLUMNS * b + PRM_GROUP_COLUMNS * g);
                for (int s = 0; s < 4; s++) acc[r][s] = vdotq_s32(acc[r][s], wq[s], xb);
            }
        }
        const float *scale = (const float *)(blk + PRM_Q8_P16B32_SCALE_OFFSET);
        for (int s = 0; s < 4; s++) {
            float32x4_t sv = vld1q_f32(scale + 4 * s);
            for (int r = 0; r < rows; r++) facc[r][s] = vfmaq_f32(facc[r][s], vcvtq_f32_s32(acc[r][s]), sv);
        }
    }
    for (int s = 0; s < 4; s++) {
        float32x4_t bv = load_bias4(bias, o0 + 4 * s, n);
        for (int r = 0; r < rows; r++)
            store4(y + r * ldy, vaddq_f32(PRM_ROUNDED(vmulq_n_f32(facc[r][s], sx[r])), bv), o0 + 4 * s, lo, hi);
    }
}

PRM_TARGET_DOTPROD static void linear_q8p16b32_a8_neon(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                                       int64_t n_begin, int64_t n_end, const float *bias, float *y,
                                                       int64_t ldy) {
    int64_t blocks = prm_blocks(k), stride = prm_q8_p16b32_panel_bytes(k);
    int64_t m = x->m, ldq = x->kp, block = prm_row_block(x->kp, A8_ROWS);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        int64_t i1 = i0 + block < m ? i0 + block : m;
        for (int64_t p = n_begin / PRM_PANEL_ROWS; PRM_PANEL_ROWS * p < n_end; p++) {
            const uint8_t *panel = w + p * stride;
            int64_t o0 = PRM_PANEL_ROWS * p;
            for (int64_t i = i0; i < i1; i += A8_ROWS) {
                int rows = (int)(i1 - i < A8_ROWS ? i1 - i : A8_ROWS);
                switch (rows) {
                case 4: a8_tile(4, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end); break;
                case 3: a8_tile(3, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end); break;
                case 2: a8_tile(2, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end); break;
                default: a8_tile(1, x->q + i * ldq, ldq, panel, blocks, x->scale + i, bias, n, y + i * ldy, ldy, o0, n_begin, n_end); break;
                }
            }
        }
    }
}

void prm_fill_neon_dotprod_quant(prm_kernel_table *t) {
    t->quantize_activations = quantize_activations_neon;
    t->linear_q8p16 = linear_q8p16_neon;
    t->linear_q4p16b32 = linear_q4p16b32_neon;
    t->quantize_activations_q16 = quantize_activations_q16_neon;
    t->linear_q8p16b32 = linear_q8p16b32_neon;
    t->linear_q8p16b32_a8 = linear_q8p16b32_a8_neon;
}

#endif
