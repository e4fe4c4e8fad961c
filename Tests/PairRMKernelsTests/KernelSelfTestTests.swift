import PairRMKernelSelfTest
import PairRMKernels
import XCTest

/// The C kernel self-test (Tools/kernels/kernel_selftest.c), one test per variant: every SIMD
/// variant this machine runs against the generic reference on awkward sizes (q8/q4/Q8_P16B32
/// linears, activation quantizers, f32/f16 GEMMs, LayerNorm, GELU, softmax, f16 → f32) plus the
/// column/row split determinism checks. The same checks run under QEMU (NEON) and SIMDe
/// (AVX-512) in `.ci/run`; variants this CPU lacks are skipped here with their name.
final class KernelSelfTestTests: XCTestCase {
    func run(_ isa: prm_isa) throws {
        let name = String(cString: prm_isa_name(isa))
        let failures = prm_selftest_run(Int32(isa.rawValue))
        if failures < 0 { throw XCTSkip("\(name) cannot run on this CPU or build") }
        XCTAssertEqual(failures, 0, "\(name): \(failures) failed checks (printed above)")
    }

    func testGeneric() throws { try run(PRM_ISA_GENERIC) }
    func testAVX2() throws { try run(PRM_ISA_AVX2) }
    func testAVX512VNNI() throws { try run(PRM_ISA_AVX512_VNNI) }
    func testNEONDotProd() throws { try run(PRM_ISA_NEON_DOTPROD) }

    override func tearDown() {
        prm_kernels_force(prm_isa_best())
        super.tearDown()
    }
}
