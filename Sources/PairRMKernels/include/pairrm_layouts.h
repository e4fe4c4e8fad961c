// Byte layouts of the container's quantized weight types (Formats/prm-v1.md §6): the sizes and
// offsets the kernels, the quantizer and the reader's size checks must agree on. Constants only,
// as anonymous enums so C sees int constants and Swift imports them as `Int`
// (`PRM_Q8_P16B32_BLOCK_BYTES`, …). Each block size is checked against the spec's number below.
//
//   Q8_ROWS    (§6.1)  f32 scale[R], pad to align64(4R), then int8 q[R][C] row-major.
//   Q8_P16     (§6.2)  16-row panels of Kp/4 groups (Kp = K rounded up to 4), then 16 f32 scales
//                      and 16 int32 row sums: panel stride 16·Kp + 128.
//   Q4_P16B32  (§6.3)  16-row panels of Kp/32 blocks (Kp = K rounded up to 32); a block is 4 groups
//                      of packed nibbles (u = q + 8) then 16 f32 scales: 320 bytes.
//   Q8_P16B32  (§6.4)  16-row panels of Kp/32 blocks; a block is 8 int8 groups then 16 f32 scales:
//                      576 bytes.
//
// A group is 64 bytes: 16 rows × 4 bytes, byte[4r + j] for row r of the panel and column j of the
// group (Q4_P16B32: the byte holds column j in its low nibble and column j + 4 in its high one).
#ifndef PAIRRM_LAYOUTS_H
#define PAIRRM_LAYOUTS_H

#include <stdint.h>

// Shared by the panel types (Q8_P16, Q4_P16B32, Q8_P16B32).
enum {
    PRM_PANEL_ROWS = 16,                                          // weight rows (outputs) per panel
    PRM_GROUP_COLUMNS = 4,                                        // bytes of one row in a group
    PRM_GROUP_BYTES = PRM_PANEL_ROWS * PRM_GROUP_COLUMNS,         // 64: one group
    PRM_PANEL_SCALE_BYTES = PRM_PANEL_ROWS * (int)sizeof(float),  // 64: one f32 scale per panel row
    PRM_BLOCK_COLUMNS = 32,  // columns per scale block (Q4_P16B32, Q8_P16B32); the activations'
                             // padding (kp) and block sums use the same width
};

// Q8_ROWS (§6.1): one f32 scale per row, the int8 rows after the scales padded to 64 bytes.
enum {
    PRM_Q8_ROWS_SCALE_BYTES = (int)sizeof(float),  // per row
    PRM_Q8_ROWS_ALIGNMENT = 64,                    // the int8 rows start at align64(4 · R)
};

// Q8_P16 (§6.2): a panel is 16 · Kp bytes of groups (Kp = K rounded up to PRM_GROUP_COLUMNS), then
// a tail of 16 f32 scales and 16 int32 row sums; offsets below are from the start of the tail.
enum {
    PRM_Q8_P16_TAIL_SCALE_OFFSET = 0,
    PRM_Q8_P16_TAIL_ROWSUM_OFFSET = PRM_PANEL_SCALE_BYTES,                                       // 64
    PRM_Q8_P16_TAIL_BYTES = PRM_Q8_P16_TAIL_ROWSUM_OFFSET + PRM_PANEL_ROWS * (int)sizeof(int32_t), // 128
};

// Q4_P16B32 (§6.3): a block of 32 columns is PRM_Q4_P16B32_GROUPS groups of 8 columns (4 per
// nibble), then the panel rows' f32 scales for the block. Nibbles store u = q + 8.
enum {
    PRM_Q4_P16B32_GROUPS = 4,
    PRM_Q4_P16B32_GROUP_COLUMNS = 2 * PRM_GROUP_COLUMNS,                                      // 8
    PRM_Q4_P16B32_SCALE_OFFSET = PRM_Q4_P16B32_GROUPS * PRM_GROUP_BYTES,                      // 256
    PRM_Q4_P16B32_BLOCK_BYTES = PRM_Q4_P16B32_SCALE_OFFSET + PRM_PANEL_SCALE_BYTES,           // 320
    PRM_Q4_P16B32_NIBBLE_OFFSET = 8,                                                          // u = q + 8
};

// Q8_P16B32 (§6.4): a block of 32 columns is PRM_Q8_P16B32_GROUPS groups of 4 columns (the Q8_P16
// group order), then the panel rows' f32 scales for the block.
enum {
    PRM_Q8_P16B32_GROUPS = PRM_BLOCK_COLUMNS / PRM_GROUP_COLUMNS,                             // 8
    PRM_Q8_P16B32_SCALE_OFFSET = PRM_Q8_P16B32_GROUPS * PRM_GROUP_BYTES,                      // 512
    PRM_Q8_P16B32_BLOCK_BYTES = PRM_Q8_P16B32_SCALE_OFFSET + PRM_PANEL_SCALE_BYTES,           // 576
};

#if defined(__cplusplus)
#define PRM_LAYOUT_ASSERT(condition, message) static_assert(condition, message)
#else
#define PRM_LAYOUT_ASSERT(condition, message) _Static_assert(condition, message)
#endif
PRM_LAYOUT_ASSERT(PRM_Q8_ROWS_SCALE_BYTES == 4 && PRM_Q8_ROWS_ALIGNMENT == 64, "Q8_ROWS: f32 scales, rows at align64 (§6.1)");
PRM_LAYOUT_ASSERT(PRM_GROUP_BYTES == 64, "a group is 16 rows x 4 bytes (prm-v1 §6.2)");
PRM_LAYOUT_ASSERT(PRM_Q8_P16_TAIL_BYTES == 128, "Q8_P16 panel tail: 16 f32 scales + 16 int32 row sums (§6.2)");
PRM_LAYOUT_ASSERT(PRM_Q4_P16B32_GROUPS * PRM_Q4_P16B32_GROUP_COLUMNS == PRM_BLOCK_COLUMNS,
                  "Q4_P16B32 groups cover one 32-column block (§6.3)");
PRM_LAYOUT_ASSERT(PRM_Q4_P16B32_BLOCK_BYTES == 320, "Q4_P16B32 block: 256 nibble bytes + 16 f32 scales (§6.3)");
PRM_LAYOUT_ASSERT(PRM_Q8_P16B32_GROUPS * PRM_GROUP_COLUMNS == PRM_BLOCK_COLUMNS,
                  "Q8_P16B32 groups cover one 32-column block (§6.4)");
PRM_LAYOUT_ASSERT(PRM_Q8_P16B32_BLOCK_BYTES == 576, "Q8_P16B32 block: 512 int8 + 16 f32 scales (§6.4)");
#undef PRM_LAYOUT_ASSERT

#endif
