// PairRM-Swift compute kernels. Plain C, no model knowledge: GEMMs over the container's weight
// layouts (Formats/prm-v1.md §6; sizes and offsets in pairrm_layouts.h), f32 GEMMs for attention,
// and row-wise elementwise ops.
//
// Every public entry point dispatches through one table chosen once, at first use, from the CPU's
// features (ggml's arch/ + generic pattern): a scalar reference (`generic`, always present), and
// AVX2+FMA, AVX-512 (VNNI) and NEON (dotprod) variants where the build and the CPU have them.
// `prm_kernels_force` switches the table so tests can run every variant the machine supports.
//
// Determinism: each output element is computed by a fixed sequence of operations that depends only
// on the kernel variant and the operand sizes, never on how the caller splits the work
// (`n_begin`/`n_end` ranges must be multiples of 16 except at N). The runtime can therefore split
// rows or output columns across threads and still get bit-identical results for any thread count.
//
// Thread-safety: all functions are reentrant; `prm_kernels_force` must not race with kernel calls.
#ifndef PAIRRM_KERNELS_H
#define PAIRRM_KERNELS_H

#include "pairrm_layouts.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum prm_isa {
    PRM_ISA_GENERIC = 0,       // scalar reference, every platform
    PRM_ISA_AVX2 = 1,          // x86-64: AVX2 + FMA + F16C
    PRM_ISA_AVX512_VNNI = 2,   // x86-64: AVX-512 F/BW/VL + VNNI
    PRM_ISA_NEON_DOTPROD = 3,  // aarch64: NEON + dotprod
    PRM_ISA_COUNT = 4
} prm_isa;

/// Whether this build and this CPU can run `isa`.
int prm_isa_supported(prm_isa isa);
/// The best variant for this CPU (what the table uses unless forced).
prm_isa prm_isa_best(void);
/// The variant currently in use.
prm_isa prm_kernels_active(void);
/// Use `isa` from now on. Returns 0, or -1 (table unchanged) when unsupported.
int prm_kernels_force(prm_isa isa);
/// "generic", "avx2", "avx512_vnni", "neon_dotprod".
const char *prm_isa_name(prm_isa isa);

// ---------------------------------------------------------------------------------------------
// Linear layers: Y[i, n] = sum_k X[i, k] * W[n, k] + bias[n]   for i < m, n_begin <= n < n_end.
// X is f32 row-major with leading dimension ldx (>= k); Y likewise with ldy. bias may be NULL.
// Y is overwritten.

/// W: F32 row-major [N][K].
void prm_linear_f32(const float *x, int64_t m, int64_t k, int64_t ldx,
                    const float *w, int64_t n_begin, int64_t n_end,
                    const float *bias, float *y, int64_t ldy);

/// W: F16 row-major [N][K] (IEEE binary16 bits).
void prm_linear_f16(const float *x, int64_t m, int64_t k, int64_t ldx,
                    const uint16_t *w, int64_t n_begin, int64_t n_end,
                    const float *bias, float *y, int64_t ldy);

/// Activations quantized per row for the int8 GEMMs: q[i][0..kp) symmetric int8 (|q| <= 127,
/// zero padded past k), scale[i] = max|x[i]| / 127, block_sum[i][b] = sum of q[i][32b..32b+32).
typedef struct prm_q8_activations {
    int8_t *q;            // [m][kp]
    float *scale;         // [m]
    int32_t *block_sum;   // [m][kp / 32]
    int64_t m;
    int64_t kp;           // k rounded up to 32
} prm_q8_activations;

/// Quantizes X (m x k, ldx) into `out` (whose buffers the caller sizes: kp = ceil(k/32)*32).
void prm_quantize_activations(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q8_activations *out);

/// W: Q8_P16 [N][K] (§6.2). y = scale_x[i] * scale_w[n] * sum_k qx * qw + bias.
void prm_linear_q8p16(const prm_q8_activations *x, int64_t k,
                      const uint8_t *w, int64_t n, int64_t n_begin, int64_t n_end,
                      const float *bias, float *y, int64_t ldy);

/// W: Q4_P16B32 [N][K] (§6.3). y = scale_x[i] * sum_b scale_w[n][b] * sum_{k in b} qx * (u - 8) + bias.
void prm_linear_q4p16b32(const prm_q8_activations *x, int64_t k,
                         const uint8_t *w, int64_t n, int64_t n_begin, int64_t n_end,
                         const float *bias, float *y, int64_t ldy);

/// Activations quantized per row to int16 for the Q8_P16B32 GEMM:
///   scale[i] = max_i / 32767, max_i = max_j |x[i][j]|,
///   q[i*kp + j] = clamp(round(x[i][j] * (32767 / max_i)), -32767, 32767)  (round half away from zero;
///   32767 / max_i computed once per row), all-zero row: scale 0 and q 0; columns k..kp-1 are zero.
typedef struct prm_q16_activations {
    int16_t *q;           // [m][kp]
    float *scale;         // [m]
    int64_t m;
    int64_t kp;           // k rounded up to 32
} prm_q16_activations;

/// Quantizes X (m x k, ldx) into `out` (whose buffers the caller sizes: kp = ceil(k/32)*32).
void prm_quantize_activations_q16(const float *x, int64_t m, int64_t k, int64_t ldx, prm_q16_activations *out);

/// W: Q8_P16B32 [N][K] (int8, one f32 scale per row per 32 columns; panel p, block b is 576 bytes
/// (PRM_Q8_P16B32_BLOCK_BYTES) at p * (kp/32) * 576 + 576 * b: 8 groups of 16 rows x 4 columns,
/// byte[64g + 4r + j] = q[16p+r][32b+4g+j], then f32 scale[r] at 512 (PRM_Q8_P16B32_SCALE_OFFSET)).
/// For every output o in [n_begin, n_end):
///   acc = 0; for each block b in order: acc = fmaf((float)dot_b, wscale[o][b], acc);
///   y[i][o] = acc * scale[i] + bias[o]      (rounded product, then a separate add: never fused)
/// with dot_b = sum over the block of (int32) wq[o][k] * xq[i][k], exact in int32. bias NULL adds
/// +0.0f (so a -0.0 product comes out +0.0, as in the other linear ops). Every variant gives these
/// bits exactly.
void prm_linear_q8p16b32(const prm_q16_activations *x, int64_t k,
                         const uint8_t *w, int64_t n, int64_t n_begin, int64_t n_end,
                         const float *bias, float *y, int64_t ldy);

/// W: Q8_P16B32 [N][K] × int8 activations (`prm_quantize_activations`: one scale per row) — the
/// W8A8 recipe. Same arithmetic as `prm_linear_q8p16b32` with the int8 rows in place of the int16
/// ones: dot_b = sum over the block of (int32) wq[o][k] * xq[i][k] (exact), acc = fmaf((float)dot_b,
/// wscale[o][b], acc) block by block in order, y = acc * scale[i] (rounded) + bias. Every variant
/// gives these bits exactly.
void prm_linear_q8p16b32_a8(const prm_q8_activations *x, int64_t k,
                            const uint8_t *w, int64_t n, int64_t n_begin, int64_t n_end,
                            const float *bias, float *y, int64_t ldy);

// ---------------------------------------------------------------------------------------------
// f32 matrix products for attention. All row-major with leading dimensions.

/// C[m][n] = alpha * sum_k A[i][k] * B[j][k]          (A·Bᵀ), C overwritten.
void prm_sgemm_nt(int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);

/// C[m][n] = sum_k A[i][k] * B[k][j]                  (A·B), C overwritten.
void prm_sgemm_nn(int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);

// ---------------------------------------------------------------------------------------------
// Row-wise ops (m rows of n, leading dimension ld).

/// y = LayerNorm(x (+ residual if not NULL)) * gamma + beta, biased variance, in place allowed (y == x).
void prm_layernorm(const float *x, const float *residual, float *y, int64_t m, int64_t n, int64_t ld,
                   const float *gamma, const float *beta, float eps);

/// x = 0.5 * x * (1 + erf(x / sqrt(2)))  (exact erf GELU), count elements in place.
void prm_gelu(float *x, int64_t count);

/// In place softmax of each row over its first n entries.
void prm_softmax_rows(float *x, int64_t m, int64_t n, int64_t ld);

// ---------------------------------------------------------------------------------------------
// Conversions.

/// dst[i] = src[i] widened from IEEE binary16 bits to f32, i < count. Exact for every input, with
/// the hardware conversions' result in every variant: subnormals normalized, ±Inf kept, NaNs keep
/// sign and payload and come out quiet (a signalling NaN gets the quiet bit). No alignment needed.
void prm_f16_to_f32(const uint16_t *src, float *dst, int64_t count);

#ifdef __cplusplus
}
#endif
#endif
