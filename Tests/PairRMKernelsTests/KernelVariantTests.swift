// What the C self-test (Tools/kernels/kernel_selftest.c, run per variant by
// KernelSelfTestTests) does not cover, through the public API (prm_kernels_force): dispatch and
// naming, the documented Q8_P16B32 formula, vanishing rows, attention GEMMs across row blocks,
// and Q8_P16B32 column splits inside a panel. Integer kernels must reproduce generic's exact int32
// sums; the Q8_P16B32 paths (quantize_activations_q16, linear_q8p16b32 and the W8A8
// linear_q8p16b32_a8) must be bit-identical to generic in every variant.
import PairRMKernels
import XCTest

final class KernelVariantTests: XCTestCase {
    static let ms = [1, 3, 17, 64]
    static let ks = [4, 32, 36, 100, 1024]
    static let ns = [16, 17, 48, 100]

    var variants: [prm_isa] {
        (1..<PRM_ISA_COUNT.rawValue).map { prm_isa(rawValue: $0) }.filter { prm_isa_supported($0) != 0 }
    }

    override func tearDown() {
        XCTAssertEqual(prm_kernels_force(prm_isa_best()), 0)
        super.tearDown()
    }

    func testBestVariantIsActiveAndNamed() {
        XCTAssertEqual(prm_kernels_active(), prm_isa_best())
        XCTAssertEqual(prm_isa_supported(PRM_ISA_GENERIC), 1)
        for isa in variants { XCTAssertNotEqual(String(cString: prm_isa_name(isa)), "unknown") }
        #if arch(x86_64)
        XCTAssertEqual(prm_isa_supported(PRM_ISA_NEON_DOTPROD), 0)
        #endif
        print("kernel variants supported here:", ([PRM_ISA_GENERIC] + variants).map { String(cString: prm_isa_name($0)) })
    }

    // MARK: - Q8_P16B32 × int16 and × int8 activations (bit-identical in every variant)

    func testQ16KernelsAreBitIdenticalToGeneric() {
        for isa in variants {
            for m in 1...9 {
                for k in [1, 31, 32, 33, 100, 1000] { for n in [1, 16, 17, 40, 100] { checkQ16(isa, m: m, k: k, n: n) } }
            }
            checkQ16(isa, m: 64, k: 4096, n: 48)
        }
    }

    private func checkQ16(_ isa: prm_isa, m: Int, k: Int, n: Int) {
        let label = "\(String(cString: prm_isa_name(isa))) m=\(m) k=\(k) n=\(n)"
        var rng = RNG(seed: UInt64(m * 7_000_003 + k * 1013 + n))
        let ldx = k + 3
        var x = (0..<(m * ldx)).map { _ in rng.float(-2, 2) }
        if m > 1 {  // inverse 1 and values x.5: exact rounding ties
            for j in 0..<k { x[ldx + j] = j == 0 ? 32767 : Float((j % 2 == 1 ? 1 : -1) * (j % 1000)) + 0.5 }
        }
        if m > 2 { for j in 0..<k { x[2 * ldx + j] = 0 } }  // an all-zero row
        if m > 3 { for j in 0..<k { x[3 * ldx + j] *= 1e-20 } }
        let bias = (0..<n).map { _ in rng.float(-1, 1) }
        let weights = makeQ8P16B32(n: n, k: k, rng: &rng)

        let want = Activations16(m: m, k: k), got = Activations16(m: m, k: k)
        force(PRM_ISA_GENERIC)
        want.quantize(x, ldx: ldx)
        force(isa)
        got.quantize(x, ldx: ldx)
        XCTAssertEqual(got.q, want.q, "quantize_activations_q16.q \(label) \(firstMismatch(got.q, want.q))")
        XCTAssertEqual(got.scale.map(\.bitPattern), want.scale.map(\.bitPattern), "quantize_activations_q16.scale \(label)")
        if m > 2 { XCTAssertEqual(want.scale[2], 0); XCTAssertTrue(want.q[(2 * want.kp)..<(3 * want.kp)].allSatisfy { $0 == 0 }) }
        if m > 1 { XCTAssertEqual(want.q[want.kp], 32767, label) }

        // The same weights against the int8 rows of the same input (the W8A8 kernel).
        let want8 = Activations(m: m, k: k), got8 = Activations(m: m, k: k)
        force(PRM_ISA_GENERIC)
        want8.quantize(x, ldx: ldx)
        force(isa)
        got8.quantize(x, ldx: ldx)
        XCTAssertEqual(got8.q, want8.q, "quantize_activations.q \(label)")
        for narrow in [false, true] {
            checkQ8P16B32(isa, narrow ? .narrow(want8) : .wide(want), label: label, m: m, k: k, n: n, weights: weights, bias: bias)
        }
    }

    /// Quantized rows for a Q8_P16B32 GEMM: int16 (prm_linear_q8p16b32) or int8 (prm_linear_q8p16b32_a8).
    private enum Rows {
        case wide(Activations16)
        case narrow(Activations)

        func rows(_ from: Int, _ count: Int) -> Rows {
            switch self {
            case .wide(let a): .wide(a.rows(from, count))
            case .narrow(let a): .narrow(a.rows(from, count))
            }
        }

        func linear(k: Int, _ w: UnsafePointer<UInt8>, n: Int, _ lo: Int, _ hi: Int, _ bias: UnsafePointer<Float>?,
                    _ y: UnsafeMutablePointer<Float>, ldy: Int) {
            switch self {
            case .wide(let acts):
                acts.withStruct { a in prm_linear_q8p16b32(&a, Int64(k), w, Int64(n), Int64(lo), Int64(hi), bias, y, Int64(ldy)) }
            case .narrow(let acts):
                acts.withStruct { a in prm_linear_q8p16b32_a8(&a, Int64(k), w, Int64(n), Int64(lo), Int64(hi), bias, y, Int64(ldy)) }
            }
        }
    }

    /// `isa` against generic, bit for bit: with and without bias, any column range (outputs outside
    /// it untouched), pieces split inside panels, and any row split.
    private func checkQ8P16B32(_ isa: prm_isa, _ acts: Rows, label: String, m: Int, k: Int, n: Int, weights: [UInt8], bias: [Float]) {
        let ldy = n + 5
        let name: String
        if case .wide = acts { name = "linear_q8p16b32" } else { name = "linear_q8p16b32_a8" }
        func run(_ variant: prm_isa, _ acts: Rows, _ lo: Int, _ hi: Int, _ y: inout [Float], bias: [Float]?) {
            force(variant)
            weights.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { yp in
                    if let bias {
                        bias.withUnsafeBufferPointer { b in acts.linear(k: k, w.baseAddress!, n: n, lo, hi, b.baseAddress, yp.baseAddress!, ldy: ldy) }
                    } else {
                        acts.linear(k: k, w.baseAddress!, n: n, lo, hi, nil, yp.baseAddress!, ldy: ldy)
                    }
                }
            }
        }
        for withBias in [true, false] {
            let b = withBias ? bias : nil
            var reference = [Float](repeating: 0, count: m * ldy), output = reference
            run(PRM_ISA_GENERIC, acts, 0, n, &reference, bias: b)
            run(isa, acts, 0, n, &output, bias: b)
            assertIdentical(withBias ? name : "\(name).no_bias", label, output, reference, rows: m, cols: ldy, ld: ldy)
        }
        var reference = [Float](repeating: 0, count: m * ldy)
        run(PRM_ISA_GENERIC, acts, 0, n, &reference, bias: bias)
        // Column ranges at panel boundaries and inside panels; outputs outside the range untouched.
        for (lo, hi) in [(0, 16), (16, n), (5, n), (0, 7), (3, 35), (17, n - 1), (n - 1, n)] where lo < min(hi, n) {
            let hi = min(hi, n)
            var pieces = [Float](repeating: -7, count: m * ldy)
            run(isa, acts, lo, hi, &pieces, bias: bias)
            var expected = [Float](repeating: -7, count: m * ldy)
            for i in 0..<m { for o in lo..<hi { expected[i * ldy + o] = reference[i * ldy + o] } }
            assertIdentical("\(name).split_columns [\(lo), \(hi))", label, pieces, expected, rows: m, cols: ldy, ld: ldy)
        }
        // Several pieces covering all columns, split inside panels.
        var pieces = [Float](repeating: 0, count: m * ldy)
        var lo = 0
        while lo < n {
            let hi = min(n, lo + 1 + lo % 23)
            run(isa, acts, lo, hi, &pieces, bias: bias)
            lo = hi
        }
        assertIdentical("\(name).pieces", label, pieces, reference, rows: m, cols: n, ld: ldy)
        for top in stride(from: 1, to: m, by: 3) {
            var first = [Float](repeating: 0, count: top * ldy), rest = [Float](repeating: 0, count: (m - top) * ldy)
            run(isa, acts.rows(0, top), 0, n, &first, bias: bias)
            run(isa, acts.rows(top, m - top), 0, n, &rest, bias: bias)
            assertIdentical("\(name).split_rows \(top)", label, first + rest, reference, rows: m, cols: n, ld: ldy)
        }
    }

    /// Rows whose largest |x| is so small that levels / max overflows to infinity (and a subnormal
    /// row) quantize to zeros in every variant instead of 0 · inf = NaN → an undefined conversion.
    func testQuantizersTreatVanishingRowsAsZero() {
        let k = 40, kp = 64
        let x: [Float] = (0..<k).map { Float($0 % 7 - 3) * 1e-38 } + (0..<k).map { Float($0 % 5 - 2) * 1e-44 }
        for isa in [PRM_ISA_GENERIC] + variants {
            force(isa)
            let label = String(cString: prm_isa_name(isa))
            let wide = Activations16(m: 2, k: k)
            wide.quantize(x, ldx: k)
            XCTAssertTrue(wide.q.allSatisfy { $0 == 0 }, "int16 \(label)")
            var q8 = [Int8](repeating: 0x5A, count: 2 * kp), scales = [Float](repeating: .nan, count: 2)
            var sums = [Int32](repeating: 7, count: 2 * kp / 32)
            q8.withUnsafeMutableBufferPointer { qp in
                scales.withUnsafeMutableBufferPointer { sp in
                    sums.withUnsafeMutableBufferPointer { bp in
                        var a = prm_q8_activations(q: qp.baseAddress, scale: sp.baseAddress, block_sum: bp.baseAddress, m: 2, kp: Int64(kp))
                        prm_quantize_activations(x, 2, Int64(k), Int64(k), &a)
                    }
                }
            }
            XCTAssertTrue(q8.allSatisfy { $0 == 0 } && sums.allSatisfy { $0 == 0 }, "int8 \(label)")
        }
        force(prm_isa_best())
    }

    /// The generic kernel against a double-precision evaluation of its documented formula.
    func testQ16GenericFollowsTheDocumentedFormula() {
        let (m, k, n) = (3, 70, 20)
        var rng = RNG(seed: 99)
        let x = (0..<(m * k)).map { _ in rng.float(-3, 3) }
        let weights = makeQ8P16B32(n: n, k: k, rng: &rng)
        let bias = (0..<n).map { _ in rng.float(-1, 1) }
        let acts = Activations16(m: m, k: k)
        force(PRM_ISA_GENERIC)
        acts.quantize(x, ldx: k)
        for i in 0..<m {
            let row = x[(i * k)..<((i + 1) * k)], maximum = row.map(abs).max()!
            XCTAssertEqual(acts.scale[i], maximum / 32767)
            let inverse = 32767 / maximum
            for j in 0..<k {
                XCTAssertEqual(acts.q[i * acts.kp + j], Int16((x[i * k + j] * inverse).rounded(.toNearestOrAwayFromZero)))
            }
            for j in k..<acts.kp { XCTAssertEqual(acts.q[i * acts.kp + j], 0) }
        }
        // The int16 rows, then the int8 rows (W8A8) of the same input, through the same formula.
        let narrow = Activations(m: m, k: k)
        narrow.quantize(x, ldx: k)
        let cases: [(String, (Int, Int) -> Int32, [Float], (UnsafePointer<UInt8>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void)] = [
            ("int16", { Int32(acts.q[$0 * acts.kp + $1]) }, acts.scale, { w, b, y in
                acts.withStruct { a in prm_linear_q8p16b32(&a, Int64(k), w, Int64(n), 0, Int64(n), b, y, Int64(n)) } }),
            ("int8", { Int32(narrow.q[$0 * narrow.kp + $1]) }, narrow.scale, { w, b, y in
                narrow.withStruct { a in prm_linear_q8p16b32_a8(&a, Int64(k), w, Int64(n), 0, Int64(n), b, y, Int64(n)) } }),
        ]
        let blocks = (k + 31) / 32
        for (width, element, rowScale, linear) in cases {
            var y = [Float](repeating: 0, count: m * n)
            weights.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { b in linear(w.baseAddress!, b.baseAddress!, &y) } }
            for i in 0..<m {
                for o in 0..<n {
                    var acc: Float = 0
                    for b in 0..<blocks {
                        let base = ((o / 16) * blocks + b) * 576
                        var dot: Int32 = 0
                        for j in 0..<32 {
                            dot += Int32(Int8(bitPattern: weights[base + 64 * (j / 4) + 4 * (o % 16) + j % 4])) * element(i, 32 * b + j)
                        }
                        let scale = weights[(base + 512 + 4 * (o % 16))..<(base + 516 + 4 * (o % 16))].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
                        acc = acc.addingProduct(Float(dot), scale)  // fmaf(dot, scale, acc)
                    }
                    let product = acc * rowScale[i]
                    XCTAssertEqual(y[i * n + o].bitPattern, (product + bias[o]).bitPattern, "\(width) [\(i)][\(o)]")
                }
            }
        }
    }

    // MARK: - f32 GEMMs

    func testAttentionGemmsAcrossRowBlocks() {
        let m = 1100, headSize = 64, hidden = 160, n = 100
        var rng = RNG(seed: 2048)
        let q = (0..<(m * hidden)).map { _ in rng.float(-1, 1) }
        let keys = (0..<(n * hidden)).map { _ in rng.float(-1, 1) }
        let probabilities = (0..<(m * (m + 3))).map { _ in rng.float(0, 1) }
        let values = (0..<(m * hidden)).map { _ in rng.float(-1, 1) }
        for isa in variants {
            let label = String(cString: prm_isa_name(isa))
            func nt(_ variant: prm_isa, rows: Range<Int>) -> [Float] {
                force(variant)
                var c = [Float](repeating: 0, count: m * (n + 2))
                q.withUnsafeBufferPointer { a in
                    c.withUnsafeMutableBufferPointer { cp in
                        prm_sgemm_nt(Int64(rows.count), Int64(n), Int64(headSize), 0.125, a.baseAddress! + rows.lowerBound * hidden,
                                     Int64(hidden), keys, Int64(hidden), cp.baseAddress! + rows.lowerBound * (n + 2), Int64(n + 2))
                    }
                }
                return c
            }
            let ntWhole = nt(isa, rows: 0..<m)
            compare("sgemm_nt.blocks", label, ntWhole, nt(PRM_ISA_GENERIC, rows: 0..<m), rows: m, cols: n, ld: n + 2) { _, want in
                1e-5 * (abs(want) + 8)
            }
            var ntSplit = nt(isa, rows: 0..<513)
            let ntRest = nt(isa, rows: 513..<m)
            for i in 513..<m { for j in 0..<n { ntSplit[i * (n + 2) + j] = ntRest[i * (n + 2) + j] } }
            assertIdentical("sgemm_nt.split_rows", label, ntSplit, ntWhole, rows: m, cols: n, ld: n + 2)

            func nn(_ variant: prm_isa, rows: Range<Int>) -> [Float] {
                force(variant)
                var c = [Float](repeating: 0, count: m * hidden)
                probabilities.withUnsafeBufferPointer { a in
                    c.withUnsafeMutableBufferPointer { cp in
                        prm_sgemm_nn(Int64(rows.count), Int64(n), Int64(m), a.baseAddress! + rows.lowerBound * (m + 3), Int64(m + 3),
                                     values, Int64(hidden), cp.baseAddress! + rows.lowerBound * hidden, Int64(hidden))
                    }
                }
                return c
            }
            let nnWhole = nn(isa, rows: 0..<m)
            compare("sgemm_nn.blocks", label, nnWhole, nn(PRM_ISA_GENERIC, rows: 0..<m), rows: m, cols: n, ld: hidden) { _, want in
                1e-5 * (abs(want) + Float(m))
            }
            var nnSplit = nn(isa, rows: 0..<129)
            let nnRest = nn(isa, rows: 129..<m)
            for i in 129..<m { for j in 0..<n { nnSplit[i * hidden + j] = nnRest[i * hidden + j] } }
            assertIdentical("sgemm_nn.split_rows", label, nnSplit, nnWhole, rows: m, cols: n, ld: hidden)
        }
    }

    // MARK: - Helpers

    private func force(_ isa: prm_isa) { precondition(prm_kernels_force(isa) == 0) }

    private func compare(_ kernel: String, _ label: String, _ got: [Float], _ want: [Float], rows: Int, cols: Int,
                         ld: Int, tolerance: (Int, Float) -> Float) {
        var first: Int?, count = 0, maxError: Float = 0
        for i in 0..<rows {
            for j in 0..<cols {
                let idx = i * ld + j, g = got[idx], w = want[idx]
                if g.isNaN && w.isNaN { continue }
                let e = abs(g - w)
                if e > maxError || e.isNaN { maxError = e }
                if !(e <= tolerance(idx, w)) {
                    count += 1
                    if first == nil { first = idx }
                }
            }
        }
        if let first {
            XCTFail("\(kernel) \(label): \(count) mismatches, first at [\(first / ld)][\(first % ld)] got \(got[first]) want \(want[first]), max error \(maxError)")
        }
    }

    private func assertIdentical(_ kernel: String, _ label: String, _ got: [Float], _ want: [Float], rows: Int,
                                 cols: Int, ld: Int) {
        for i in 0..<rows {
            for j in 0..<cols where got[i * ld + j].bitPattern != want[i * ld + j].bitPattern {
                XCTFail("\(kernel) \(label): not bit-identical, first at [\(i)][\(j)] got \(got[i * ld + j]) want \(want[i * ld + j])")
                return
            }
        }
    }

    private func firstMismatch<T: Equatable>(_ a: [T], _ b: [T]) -> String {
        guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "" }
        return "first mismatch at \(i): \(a[i]) vs \(b[i])"
    }
}

/// xorshift64: deterministic test data.
private struct RNG {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func float(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24) }
}

/// Owns the buffers of a prm_q8_activations; `rows` views a row range like a thread's share.
private final class Activations {
    let m: Int, k: Int, kp: Int
    var q: [Int8], scale: [Float], blockSum: [Int32]

    init(m: Int, k: Int) {
        self.m = m
        self.k = k
        kp = (k + 31) / 32 * 32
        q = [Int8](repeating: 0, count: m * kp)
        scale = [Float](repeating: 0, count: m)
        blockSum = [Int32](repeating: 0, count: m * kp / 32)
    }

    private init(copying other: Activations, from: Int, count: Int) {
        m = count
        k = other.k
        kp = other.kp
        q = Array(other.q[(from * kp)..<((from + count) * kp)])
        scale = Array(other.scale[from..<(from + count)])
        blockSum = Array(other.blockSum[(from * kp / 32)..<((from + count) * kp / 32)])
    }

    func rows(_ from: Int, _ count: Int) -> Activations { Activations(copying: self, from: from, count: count) }

    func withStruct<R>(_ body: (inout prm_q8_activations) -> R) -> R {
        q.withUnsafeMutableBufferPointer { qp in
            scale.withUnsafeMutableBufferPointer { sp in
                blockSum.withUnsafeMutableBufferPointer { bp in
                    var a = prm_q8_activations(q: qp.baseAddress, scale: sp.baseAddress, block_sum: bp.baseAddress,
                                               m: Int64(m), kp: Int64(kp))
                    return body(&a)
                }
            }
        }
    }

    func quantize(_ x: [Float], ldx: Int) {
        withStruct { a in prm_quantize_activations(x, Int64(m), Int64(k), Int64(ldx), &a) }
    }
}

/// Owns the buffers of a prm_q16_activations.
private final class Activations16 {
    let m: Int, k: Int, kp: Int
    var q: [Int16], scale: [Float]

    init(m: Int, k: Int) {
        self.m = m
        self.k = k
        kp = (k + 31) / 32 * 32
        q = [Int16](repeating: 0x5A5A, count: m * kp)
        scale = [Float](repeating: .nan, count: m)
    }

    private init(copying other: Activations16, from: Int, count: Int) {
        m = count
        k = other.k
        kp = other.kp
        q = Array(other.q[(from * kp)..<((from + count) * kp)])
        scale = Array(other.scale[from..<(from + count)])
    }

    func rows(_ from: Int, _ count: Int) -> Activations16 { Activations16(copying: self, from: from, count: count) }

    func withStruct<R>(_ body: (inout prm_q16_activations) -> R) -> R {
        q.withUnsafeMutableBufferPointer { qp in
            scale.withUnsafeMutableBufferPointer { sp in
                var a = prm_q16_activations(q: qp.baseAddress, scale: sp.baseAddress, m: Int64(m), kp: Int64(kp))
                return body(&a)
            }
        }
    }

    func quantize(_ x: [Float], ldx: Int) {
        withStruct { a in prm_quantize_activations_q16(x, Int64(m), Int64(k), Int64(ldx), &a) }
    }
}

/// Q8_P16B32: random int8 in [-127, 127], scales of either sign per row and block; padding zero.
private func makeQ8P16B32(n: Int, k: Int, rng: inout RNG) -> [UInt8] {
    let blocks = (k + 31) / 32, panels = (n + 15) / 16
    var w = [UInt8](repeating: 0, count: panels * blocks * 576)
    for p in 0..<panels {
        for b in 0..<blocks {
            let base = (p * blocks + b) * 576
            for r in 0..<16 where 16 * p + r < n {
                for j in 0..<32 where 32 * b + j < k {
                    w[base + 64 * (j / 4) + 4 * r + j % 4] = UInt8(bitPattern: Int8(Int(rng.next() % 255) - 127))
                }
                let scale = rng.float(-0.02, 0.02)
                withUnsafeBytes(of: scale.bitPattern.littleEndian) { for i in 0..<4 { w[base + 512 + 4 * r + i] = $0[i] } }
            }
        }
    }
    return w
}

/// Q8_P16 (Formats/prm-v1.md §6.2): random int8 in [-127, 127]; padding rows and columns zero.
private func makeQ8P16(n: Int, k: Int, rng: inout RNG) -> [UInt8] {
    let kp4 = (k + 3) / 4 * 4, stride = 16 * kp4 + 128, panels = (n + 15) / 16
    var w = [UInt8](repeating: 0, count: panels * stride)
    for p in 0..<panels {
        for r in 0..<16 where 16 * p + r < n {
            var sum: Int32 = 0
            for c in 0..<k {
                let v = Int8(Int(rng.next() % 255) - 127)
                w[p * stride + 64 * (c / 4) + 4 * r + c % 4] = UInt8(bitPattern: v)
                sum += Int32(v)
            }
            let scale = rng.float(0.001, 0.02)
            withUnsafeBytes(of: scale.bitPattern.littleEndian) { for b in 0..<4 { w[p * stride + 16 * kp4 + 4 * r + b] = $0[b] } }
            withUnsafeBytes(of: sum.littleEndian) { for b in 0..<4 { w[p * stride + 16 * kp4 + 64 + 4 * r + b] = $0[b] } }
        }
    }
    return w
}

/// Q4_P16B32 (§6.3): every nibble random (padding too: the activations are zero there).
private func makeQ4P16B32(n: Int, k: Int, rng: inout RNG) -> [UInt8] {
    let blocks = (k + 31) / 32, panels = (n + 15) / 16
    var w = (0..<(panels * blocks * 320)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    for p in 0..<panels {
        for b in 0..<blocks {
            for r in 0..<16 {
                let scale: Float = 16 * p + r < n ? rng.float(-0.01, 0.01) : 0
                let at = (p * blocks + b) * 320 + 256 + 4 * r
                withUnsafeBytes(of: scale.bitPattern.littleEndian) { for i in 0..<4 { w[at + i] = $0[i] } }
            }
        }
    }
    return w
}
