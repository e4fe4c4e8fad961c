// The kernel self-test (kernel_selftest.c) as a library, for a caller other than its own main:
// compile kernel_selftest.c with -DPRM_SELFTEST_NO_MAIN next to (or linked with) the kernel
// sources, then call prm_selftest_run once per variant (e.g. from XCTest, one test per prm_isa).
#ifndef PRM_KERNEL_SELFTEST_H
#define PRM_KERNEL_SELFTEST_H

#ifdef __cplusplus
extern "C" {
#endif

/// Runs every check of `variant` (a prm_isa value) against the generic reference, from the same
/// random data on every call: for the SIMD variants, each kernel on awkward sizes plus the
/// column/row split determinism checks; for PRM_ISA_GENERIC, the exhaustive f16_to_f32 check of
/// generic itself. Prints one line per failed check and "<variant>: ok" or "<variant>: FAILED".
/// Returns the number of failed checks, or -1 when this build or CPU cannot run the variant.
/// Not thread-safe (shared counters and generator).
int prm_selftest_run(int variant);

/// Checks passed and failed by all runs so far in this process.
void prm_selftest_totals(int *passed, int *failed);

#ifdef __cplusplus
}
#endif
#endif
