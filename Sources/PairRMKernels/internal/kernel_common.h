// Helpers shared by the kernel variants (generic/, arch/x86/, arch/arm/): plain C, no intrinsics,
// internal to the kernels target. Helpers built on one ISA's intrinsics live next to it
// (arch/x86/x86_simd.h; the NEON ones in arch/arm/).
#ifndef PRM_KERNEL_COMMON_H
#define PRM_KERNEL_COMMON_H

#include "../include/pairrm_layouts.h"
#include <stdint.h>
#include <string.h>

// Register-tile helpers take their tile sizes as arguments and must be specialized per call site.
#define PRM_INLINE static inline __attribute__((always_inline))

// `v` (a float or a vector of floats) rounded to its type before it is used: an empty asm makes the
// value opaque, so a compiler that contracts across statements (GCC's default -ffp-contract=fast,
// whose intrinsics are plain C operators; FMA is baseline on aarch64) cannot fuse a product into
// the next add. Where a kernel must round a product exactly as the generic code does, it wraps the
// product in this. A build may predefine it (a test build whose vectors are not register types,
// compiled with -ffp-contract=off, defines it as `(v)`).
#ifndef PRM_ROUNDED
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PRM_ROUNDED(v) __extension__({ __typeof__(v) prm_rounded_ = (v); __asm__("" : "+v"(prm_rounded_)); prm_rounded_; })
#elif defined(__GNUC__) && defined(__aarch64__)
#define PRM_ROUNDED(v) __extension__({ __typeof__(v) prm_rounded_ = (v); __asm__("" : "+w"(prm_rounded_)); prm_rounded_; })
#elif defined(__GNUC__)
#define PRM_ROUNDED(v) __extension__({ volatile __typeof__(v) prm_rounded_ = (v); prm_rounded_; })
#else
#define PRM_ROUNDED(v) (v)  // no GNU C: such a compiler must not contract (MSVC does not by default)
#endif
#endif

// Unaligned little-endian loads from weight panels and activation rows.
static inline int32_t prm_load_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline float prm_load_f32(const void *p) { float v; memcpy(&v, p, 4); return v; }

// Two int16 as the halves of one 32-bit lane, `lo` in the low half: an activation pair
// (x[4g], x[4g+2]) or (x[4g+1], x[4g+3]) broadcast against a group's even or odd weight bytes.
static inline int32_t prm_pack_i16_pair(int16_t lo, int16_t hi) {
    return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
}

// levels / maximum, the multiplier of a row's activation quantizer, or 0 when the row is all zero
// or its largest |x| is so small (< ~1e-34 for int16) that the quotient overflows to infinity:
// 0 · inf would be NaN and NaN → integer is undefined, so such a row quantizes to zeros. Shared by
// every variant, so they still agree bit for bit.
static inline float prm_quantization_inverse(float maximum, float levels) {
    float inverse = maximum > 0 ? levels / maximum : 0.0f;
    return inverse <= 3.40282347e+38f ? inverse : 0.0f;
}

// ---------------------------------------------------------------------------------------------
// GEMM drivers: rows of X are processed in row blocks whose activations (row_bytes each) stay in
// L2 while a weight panel is reused across them. A block is a whole number of `tile` rows.
enum { PRM_ROW_BLOCK_BYTES = 256 * 1024 };

static inline int64_t prm_row_block(int64_t row_bytes, int64_t tile) {
    int64_t rows = PRM_ROW_BLOCK_BYTES / (row_bytes > 0 ? row_bytes : 1) / tile * tile;
    return rows > tile ? rows : tile;
}

// ---------------------------------------------------------------------------------------------
// Weight layout arithmetic (pairrm_layouts.h, Formats/prm-v1.md §6) for k logical columns.

// The byte of panel row r, column j in a run of int8 groups (a Q8_P16 panel, a Q8_P16B32 block).
static inline int64_t prm_group_byte(int64_t r, int64_t j) {
    return PRM_GROUP_BYTES * (j / PRM_GROUP_COLUMNS) + PRM_GROUP_COLUMNS * r + j % PRM_GROUP_COLUMNS;
}

// 32-column blocks of a row (Q4_P16B32, Q8_P16B32; also the activations' block sums).
static inline int64_t prm_blocks(int64_t k) { return (k + PRM_BLOCK_COLUMNS - 1) / PRM_BLOCK_COLUMNS; }

// Q8_P16: the padded column count Kp (k rounded up to a group) and the panel stride 16·Kp + 128.
static inline int64_t prm_q8_p16_columns(int64_t k) {
    return (k + PRM_GROUP_COLUMNS - 1) / PRM_GROUP_COLUMNS * PRM_GROUP_COLUMNS;
}
static inline int64_t prm_q8_p16_panel_bytes(int64_t k) {
    return PRM_PANEL_ROWS * prm_q8_p16_columns(k) + PRM_Q8_P16_TAIL_BYTES;
}

// Panel strides of the block types.
static inline int64_t prm_q4_p16b32_panel_bytes(int64_t k) { return prm_blocks(k) * PRM_Q4_P16B32_BLOCK_BYTES; }
static inline int64_t prm_q8_p16b32_panel_bytes(int64_t k) { return prm_blocks(k) * PRM_Q8_P16B32_BLOCK_BYTES; }

#endif
