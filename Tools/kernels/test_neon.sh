#!/usr/bin/env bash
# Cross-compiles kernel_selftest.c with the kernels for aarch64 (NEON + dotprod) and runs it under
# QEMU user mode (-cpu max has FEAT_DotProd). Installs the cross compiler and QEMU when missing
# (Debian: gcc-aarch64-linux-gnu, qemu-user; needs root). Prints "N passed, M failed".
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
k="$root/Sources/PairRMKernels"
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null
fi
out="${TMPDIR:-/tmp}/prm_kernel_selftest_aarch64"
# No -march: the dotprod code must be enabled by its per-function target attributes alone, as in
# the SwiftPM build, so the same binary runs on any arm64 and dispatches at run time.
aarch64-linux-gnu-gcc -O2 -Wall -o "$out" \
    "$root/Tools/kernels/kernel_selftest.c" "$k/dispatch.c" "$k"/generic/*.c "$k"/arch/arm/*.c -lm -lpthread
qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu "$out"
