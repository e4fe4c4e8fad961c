// Scalar reference GEMMs over the container's weight layouts. These define the arithmetic the
// SIMD variants must reproduce (up to float summation order).
#include "../kernel_table.h"
#include "../internal/kernel_common.h"
#include <math.h>
#include <string.h>

// binary16 -> binary32, bit for bit what F16C's vcvtph2ps and AArch64's fcvt produce: exact for
// finite values and infinities; a NaN keeps its sign and payload and is made quiet (bit 22 set), as
// the hardware does with a signalling NaN. Subnormal halves are normalized (all normal in f32).
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: normalize
            int shift = 0;
            while ((mantissa & 0x400) == 0) { mantissa <<= 1; shift++; }
            mantissa &= 0x3FF;
            bits = sign | ((uint32_t)(127 - 15 - shift + 1) << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) {  // Inf, or NaN (quieted)
        bits = sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void linear_f32_generic(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w,
                               int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t n = n_begin; n < n_end; n++) {
            const float *row = w + n * k;
            float sum = 0;
            for (int64_t j = 0; j < k; j++) sum += x[i * ldx + j] * row[j];
            y[i * ldy + n] = sum + (bias ? bias[n] : 0.0f);
        }
    }
}

static void linear_f16_generic(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w,
                               int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t n = n_begin; n < n_end; n++) {
            const uint16_t *row = w + n * k;
            float sum = 0;
            for (int64_t j = 0; j < k; j++) sum += x[i * ldx + j] * half_to_float(row[j]);
            y[i * ldy + n] = sum + (bias ? bias[n] : 0.0f);
        }
    }
}

// max |row[j]| over j < k (the per-row scale of both activation quantizers).
static float row_abs_max(const float *row, int64_t k) {
    float maximum = 0;
    for (int64_t j = 0; j < k; j++) maximum = fmaxf(maximum, fabsf(row[j]));
    return maximum;
}

// Round half away from zero (like the weight quantizers) of v · inverse, clamped to ±limit.
static float quantize_value(float v, float inverse, float limit) {
    float r = roundf(v * inverse);
    return r > limit ? limit : r < -limit ? -limit : r;
}

static void quantize_activations_generic(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q8_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float scale = maximum / 127.0f;
        float inverse = prm_quantization_inverse(maximum, 127.0f);
        int8_t *q = out->q + i * kp;
        for (int64_t j = 0; j < k; j++) q[j] = (int8_t)quantize_value(row[j], inverse, 127.0f);
        for (int64_t j = k; j < kp; j++) q[j] = 0;
        out->scale[i] = scale;
        for (int64_t b = 0; b < kp / PRM_BLOCK_COLUMNS; b++) {
            int32_t sum = 0;
            for (int64_t j = 0; j < PRM_BLOCK_COLUMNS; j++) sum += q[PRM_BLOCK_COLUMNS * b + j];
            out->block_sum[i * (kp / PRM_BLOCK_COLUMNS) + b] = sum;
        }
    }
}

static void linear_q8p16_generic(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                 int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    (void)n;
    int64_t kp4 = prm_q8_p16_columns(k);
    int64_t stride = prm_q8_p16_panel_bytes(k);
    for (int64_t i = 0; i < x->m; i++) {
        const int8_t *q = x->q + i * x->kp;
        for (int64_t o = n_begin; o < n_end; o++) {
            const uint8_t *panel = w + (o / PRM_PANEL_ROWS) * stride;
            int64_t r = o % PRM_PANEL_ROWS;
            int32_t acc = 0;
            for (int64_t j = 0; j < kp4; j++) {
                int8_t wq = (int8_t)panel[prm_group_byte(r, j)];
                acc += (int32_t)q[j] * wq;
            }
            const uint8_t *tail = panel + PRM_PANEL_ROWS * kp4;
            float scale = prm_load_f32(tail + PRM_Q8_P16_TAIL_SCALE_OFFSET + 4 * r);
            y[i * ldy + o] = x->scale[i] * scale * (float)acc + (bias ? bias[o] : 0.0f);
        }
    }
}

static void linear_q4p16b32_generic(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                    int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    (void)n;
    int64_t blocks = prm_blocks(k);
    int64_t stride = prm_q4_p16b32_panel_bytes(k);
    for (int64_t i = 0; i < x->m; i++) {
        const int8_t *q = x->q + i * x->kp;
        const int32_t *block_sum = x->block_sum + i * (x->kp / PRM_BLOCK_COLUMNS);
        for (int64_t o = n_begin; o < n_end; o++) {
            const uint8_t *panel = w + (o / PRM_PANEL_ROWS) * stride;
            int64_t r = o % PRM_PANEL_ROWS;
            float sum = 0;
            for (int64_t b = 0; b < blocks; b++) {
                const uint8_t *block = panel + PRM_Q4_P16B32_BLOCK_BYTES * b;
                const int8_t *qb = q + PRM_BLOCK_COLUMNS * b;
                int32_t acc = 0;
                for (int64_t g = 0; g < PRM_Q4_P16B32_GROUPS; g++) {
                    for (int64_t j = 0; j < PRM_GROUP_COLUMNS; j++) {
                        uint8_t byte = block[PRM_GROUP_BYTES * g + PRM_GROUP_COLUMNS * r + j];
                        acc += (int32_t)(byte & 0x0F) * qb[PRM_Q4_P16B32_GROUP_COLUMNS * g + j];
                        acc += (int32_t)(byte >> 4) * qb[PRM_Q4_P16B32_GROUP_COLUMNS * g + PRM_GROUP_COLUMNS + j];
                    }
                }
                acc -= PRM_Q4_P16B32_NIBBLE_OFFSET * block_sum[b];
                sum += prm_load_f32(block + PRM_Q4_P16B32_SCALE_OFFSET + 4 * r) * (float)acc;
            }
            y[i * ldy + o] = x->scale[i] * sum + (bias ? bias[o] : 0.0f);
        }
    }
}

// The int16 activation quantizer: same rounding as quantize_activations (inverse computed once,
// roundf of the product), clamped to ±32767.
static void quantize_activations_q16_generic(const float *x, int64_t m, int64_t k, int64_t ldx,
                                             prm_q16_activations *out) {
    int64_t kp = out->kp;
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ldx;
        float maximum = row_abs_max(row, k);
        float inverse = prm_quantization_inverse(maximum, 32767.0f);
        int16_t *q = out->q + i * kp;
        for (int64_t j = 0; j < k; j++) q[j] = (int16_t)quantize_value(row[j], inverse, 32767.0f);
        for (int64_t j = k; j < kp; j++) q[j] = 0;
        out->scale[i] = maximum / 32767.0f;
    }
}

// A product rounded to f32 before it is used: keeps a compiler that contracts across statements
// (GCC's default -ffp-contract=fast; FMA is baseline on aarch64) from fusing it into the next add
// (PRM_ROUNDED, internal/kernel_common.h).
static inline float rounded_product(float a, float b) { return PRM_ROUNDED(a * b); }

// Q8_P16B32 against quantized rows of either width (int16: the q8 recipe; int8: W8A8). `q` holds
// m rows of kp elements of `width` bytes; only the element load differs between the two.
static void q8p16b32_generic(const void *q, int width, int64_t m, int64_t kp, const float *sx, int64_t k,
                             const uint8_t *w, int64_t n_begin, int64_t n_end, const float *bias, float *y,
                             int64_t ldy) {
    int64_t blocks = prm_blocks(k);
    int64_t stride = prm_q8_p16b32_panel_bytes(k);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t o = n_begin; o < n_end; o++) {
            const uint8_t *panel = w + (o / PRM_PANEL_ROWS) * stride;
            int64_t r = o % PRM_PANEL_ROWS;
            float acc = 0;
            for (int64_t b = 0; b < blocks; b++) {
                const uint8_t *block = panel + PRM_Q8_P16B32_BLOCK_BYTES * b;
                int32_t dot = 0;
                for (int64_t j = 0; j < PRM_BLOCK_COLUMNS; j++) {
                    int64_t at = i * kp + PRM_BLOCK_COLUMNS * b + j;
                    int32_t xq = width == 1 ? ((const int8_t *)q)[at] : ((const int16_t *)q)[at];
                    dot += (int32_t)(int8_t)block[prm_group_byte(r, j)] * xq;
                }
                acc = fmaf((float)dot, prm_load_f32(block + PRM_Q8_P16B32_SCALE_OFFSET + 4 * r), acc);
            }
            y[i * ldy + o] = rounded_product(acc, sx[i]) + (bias ? bias[o] : 0.0f);
        }
    }
}

static void linear_q8p16b32_generic(const prm_q16_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                    int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    (void)n;
    q8p16b32_generic(x->q, 2, x->m, x->kp, x->scale, k, w, n_begin, n_end, bias, y, ldy);
}

static void linear_q8p16b32_a8_generic(const prm_q8_activations *x, int64_t k, const uint8_t *w, int64_t n,
                                       int64_t n_begin, int64_t n_end, const float *bias, float *y, int64_t ldy) {
    (void)n;
    q8p16b32_generic(x->q, 1, x->m, x->kp, x->scale, k, w, n_begin, n_end, bias, y, ldy);
}

static void sgemm_nt_generic(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *b, int64_t ldb, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float sum = 0;
            for (int64_t p = 0; p < k; p++) sum += a[i * lda + p] * b[j * ldb + p];
            c[i * ldc + j] = alpha * sum;
        }
    }
}

static void sgemm_nn_generic(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                             const float *b, int64_t ldb, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = 0;
        for (int64_t p = 0; p < k; p++) {
            float av = a[i * lda + p];
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] += av * b[p * ldb + j];
        }
    }
}

static void layernorm_generic(const float *x, const float *residual, float *y, int64_t m, int64_t n, int64_t ld,
                              const float *gamma, const float *beta, float eps) {
    for (int64_t i = 0; i < m; i++) {
        const float *row = x + i * ld;
        const float *res = residual ? residual + i * ld : NULL;
        float *out = y + i * ld;
        // Sum in double: the reference (PyTorch) uses a numerically careful reduction, and the
        // mean/variance feed every element of the row.
        double sum = 0;
        for (int64_t j = 0; j < n; j++) sum += (double)(row[j] + (res ? res[j] : 0.0f));
        double mean = sum / (double)n;
        double squares = 0;
        for (int64_t j = 0; j < n; j++) {
            double d = (double)(row[j] + (res ? res[j] : 0.0f)) - mean;
            squares += d * d;
        }
        float inv = (float)(1.0 / sqrt(squares / (double)n + (double)eps));
        float fmean = (float)mean;
        for (int64_t j = 0; j < n; j++) {
            float v = row[j] + (res ? res[j] : 0.0f);
            out[j] = (v - fmean) * inv * gamma[j] + beta[j];
        }
    }
}

static void gelu_generic(float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void softmax_rows_generic(float *x, int64_t m, int64_t n, int64_t ld) {
    for (int64_t i = 0; i < m; i++) {
        float *row = x + i * ld;
        float maximum = -INFINITY;
        for (int64_t j = 0; j < n; j++) maximum = fmaxf(maximum, row[j]);
        float sum = 0;
        for (int64_t j = 0; j < n; j++) { row[j] = expf(row[j] - maximum); sum += row[j]; }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; j++) row[j] *= inv;
    }
}

static void f16_to_f32_generic(const uint16_t *src, float *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) dst[i] = half_to_float(src[i]);
}

void prm_fill_generic(prm_kernel_table *t) {
    t->linear_f32 = linear_f32_generic;
    t->linear_f16 = linear_f16_generic;
    t->quantize_activations = quantize_activations_generic;
    t->linear_q8p16 = linear_q8p16_generic;
    t->linear_q4p16b32 = linear_q4p16b32_generic;
    t->quantize_activations_q16 = quantize_activations_q16_generic;
    t->linear_q8p16b32 = linear_q8p16b32_generic;
    t->linear_q8p16b32_a8 = linear_q8p16b32_a8_generic;
    t->sgemm_nt = sgemm_nt_generic;
    t->sgemm_nn = sgemm_nn_generic;
    t->layernorm = layernorm_generic;
    t->gelu = gelu_generic;
    t->softmax_rows = softmax_rows_generic;
    t->f16_to_f32 = f16_to_f32_generic;
}
