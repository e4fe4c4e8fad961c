// The dispatch table every ISA variant fills in (internal to the kernels target). The helpers the
// variants share are in internal/kernel_common.h.
#ifndef PAIRRM_KERNEL_TABLE_H
#define PAIRRM_KERNEL_TABLE_H

#include "include/pairrm_kernels.h"

typedef struct prm_kernel_table {
    void (*linear_f32)(const float *, int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, float *, int64_t);
    void (*linear_f16)(const float *, int64_t, int64_t, int64_t, const uint16_t *, int64_t, int64_t, const float *, float *, int64_t);
    void (*quantize_activations)(const float *, int64_t, int64_t, int64_t, prm_q8_activations *);
    void (*linear_q8p16)(const prm_q8_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t);
    void (*linear_q4p16b32)(const prm_q8_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t);
    void (*quantize_activations_q16)(const float *, int64_t, int64_t, int64_t, prm_q16_activations *);
    void (*linear_q8p16b32)(const prm_q16_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t);
    void (*linear_q8p16b32_a8)(const prm_q8_activations *, int64_t, const uint8_t *, int64_t, int64_t, int64_t, const float *, float *, int64_t);
    void (*sgemm_nt)(int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float *, int64_t);
    void (*sgemm_nn)(int64_t, int64_t, int64_t, const float *, int64_t, const float *, int64_t, float *, int64_t);
    void (*layernorm)(const float *, const float *, float *, int64_t, int64_t, int64_t, const float *, const float *, float);
    void (*gelu)(float *, int64_t);
    void (*softmax_rows)(float *, int64_t, int64_t, int64_t);
    void (*f16_to_f32)(const uint16_t *, float *, int64_t);
} prm_kernel_table;

// The table of `isa` (generic entries where the variant has none), built whether or not the CPU
// supports it: dispatch uses it after checking prm_isa_supported, and Tools/kernels/kernel_selftest.c
// for emulated builds.
void prm_fill_variant(prm_isa isa, prm_kernel_table *table);

// Each variant fills the entries it implements and leaves the rest to the generic ones
// (dispatch.c fills the generic table first). One function per ISA family and op group.
void prm_fill_generic(prm_kernel_table *table);
#if defined(__x86_64__) || defined(_M_X64)
void prm_fill_avx2_quant(prm_kernel_table *table);        // arch/x86/quant_avx2.c
void prm_fill_avx2_float(prm_kernel_table *table);        // arch/x86/float_ops_avx2.c
void prm_fill_avx512_vnni_quant(prm_kernel_table *table); // arch/x86/quant_avx512.c
#endif
#if defined(__aarch64__)
void prm_fill_neon_dotprod_quant(prm_kernel_table *table); // arch/arm/quant_neon.c
void prm_fill_neon_float(prm_kernel_table *table);         // arch/arm/float_ops_neon.c
#endif

#endif
