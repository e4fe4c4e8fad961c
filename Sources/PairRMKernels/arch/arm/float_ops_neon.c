// NEON variants of the f32 ops (installed in the neon_dotprod table; everything here is base
// AArch64 NEON, so no target attribute is needed): f16_to_f32.
#if defined(__aarch64__)
#include "../../kernel_table.h"
#include <arm_neon.h>
#include <string.h>

// f16 -> f32 with fcvtl (exact; NaNs come out quiet with FPCR.DN = 0, the default, which generic
// reproduces). The tail goes through a zero-padded copy so every element uses the same instruction.
static void f16_to_f32_neon(const uint16_t *src, float *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(src + i));
        vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    }
    if (i < count) {
        uint16_t tail[8] = {0};
        float out[8];
        memcpy(tail, src + i, sizeof(uint16_t) * (size_t)(count - i));
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(tail));
        vst1q_f32(out, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(out + 4, vcvt_high_f32_f16(h));
        memcpy(dst + i, out, sizeof(float) * (size_t)(count - i));
    }
}

void prm_fill_neon_float(prm_kernel_table *t) {
    t->f16_to_f32 = f16_to_f32_neon;
}

#endif
