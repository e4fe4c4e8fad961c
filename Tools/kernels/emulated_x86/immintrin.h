// Test-only stand-in for the compiler's <immintrin.h> in emulated builds (test_x86_emulated.sh puts
// this folder first on the include path): the x86 intrinsics come from SIMDe through the shim,
// which the build has already force-included; the real header would redeclare its types.
#include "../prm_simde_shim.h"
