#!/usr/bin/env bash
# Runs kernel_selftest with the AVX2 and AVX-512 VNNI variants executed as portable C (SIMDe), for
# machines whose CPU (or hypervisor) does not expose AVX-512. Slow-ish but exact: integer results
# and the documented rounding match the hardware instructions.
# The kernel sources are compiled unchanged: prm_simde_shim.h is force-included in every file and
# emulated_x86/ supplies the <immintrin.h> they include (see the shim's header comment).
# Needs: apt-get install -y libsimde-dev
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
k="$root/Sources/PairRMKernels"
out="${TMPDIR:-/tmp}/prm_kernel_selftest_emulated"
cc -O2 -std=gnu11 -Wno-psabi -ffp-contract=off \
    -I "$root/Tools/kernels/emulated_x86" -include "$root/Tools/kernels/prm_simde_shim.h" -o "$out" \
    "$root/Tools/kernels/kernel_selftest.c" "$k/dispatch.c" "$k"/generic/*.c "$k"/arch/x86/*.c -lm -lpthread
"$out"
