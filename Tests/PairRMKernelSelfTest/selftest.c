/* The kernel self-test of Tools/kernels/kernel_selftest.c, compiled into the test build so that
 * XCTest drives the same checks (PairRMKernelsTests/KernelSelfTestTests.swift) that the scripts
 * run natively, under SIMDe (AVX-512) and under QEMU (NEON): one harness, three runners. */
#define PRM_SELFTEST_NO_MAIN 1
#include "../../Tools/kernels/kernel_selftest.c"
