import Foundation
import PairRMConverter
import PairRMFormat
import PairRMTestSupport
import XCTest
@testable import PairRMRuntime

/// Per-layer golden values from PyTorch (Tools/python/pairrm_reference/golden/make_golden.py): hidden states after
/// the embeddings and after every layer, and the logits, for short pairs, a long pair (distances
/// past the 128-token linear zone up to the 511/512 bucket edge), truncation and Unicode, on every
/// kernel variant this machine has.
final class GoldenTests: XCTestCase {
    /// Tolerances, named: hidden states within 1e-4 of the layer's largest magnitude; logits 1e-4.
    static let hiddenRelativeToLayerMax: Float = 1e-4
    static let logitTolerance = 1e-4

    struct Case {
        var name: String
        var ids: [Int32]
        var positions: (Int, Int, Int)
        var logit64: Double
        var layers: [(name: String, offset: Int, count: Int, maxAbs: Float)]
    }

    func load(_ name: String) throws -> (cases: [Case], values: [Float]) {
        let directory = RuntimeFixtures.repository.appendingPathComponent("Tests/Fixtures/golden")
        let json = try FixtureObject(contentsOf: directory.appendingPathComponent("\(name).json"))
        let raw = try Data(contentsOf: directory.appendingPathComponent("\(name).f32"))
        let values = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let cases = try json.objects("cases").map { entry -> Case in
            let positions = try entry.ints("positions")
            guard positions.count == 3 else { throw FixtureError(file: json.file, field: "positions", expected: "3 positions") }
            let layers = try entry.objects("hidden_states").map { layer -> (String, Int, Int, Float) in
                (try layer.string("name"), try layer.int("offset"), try layer.ints("shape").reduce(1, *), try layer.float("max_abs"))
            }
            return Case(name: try entry.string("name"), ids: try entry.int32s("ids"), positions: (positions[0], positions[1], positions[2]),
                        logit64: try entry.double("logit_f64"), layers: layers)
        }
        return (cases, values)
    }

    func check(golden: String, checkpoint: String) throws {
        let (cases, values) = try load(golden)
        XCTAssertGreaterThan(cases.count, 0)
        let model = try PairRMModel(path: RuntimeFixtures.model(.f32, checkpoint: checkpoint))
        var worstLogit = 0.0
        // Every variant single-threaded; the thread split is covered bit-for-bit below.
        try RuntimeFixtures.forEachVariant { variant in
            for threads in [1] {
                let context = InferenceContext(model: model, maxTokens: 2048, threads: threads)
                for item in cases {
                    var seen = 0
                    let result = try model.score(ids: item.ids, positions: item.positions, context: context,
                                                 probe: .hiddenStates { layer, states in
                        guard layer < item.layers.count else { return }
                        let expected = item.layers[layer]
                        values.withUnsafeBufferPointer { all in
                            let reference = UnsafeBufferPointer(rebasing: all[expected.offset..<(expected.offset + expected.count)])
                            assertClose(states, reference, relative: 0, absolute: GoldenTests.hiddenRelativeToLayerMax * expected.maxAbs,
                                        "\(golden) \(item.name) \(expected.name) [\(variant), \(threads) threads]")
                        }
                        seen += 1
                    })
                    XCTAssertEqual(seen, item.layers.count, "\(item.name): every layer reported")
                    // Without a probe the last layer runs only the three prefix rows: the same bits.
                    let fast = try model.score(ids: item.ids, positions: item.positions, context: context)
                    XCTAssertEqual(fast.logit.bitPattern, result.logit.bitPattern, "\(golden) \(item.name) prefix-row last layer [\(variant)]")
                    XCTAssertEqual(Double(result.logit), item.logit64, accuracy: GoldenTests.logitTolerance,
                                   "\(golden) \(item.name) logit [\(variant), \(threads) threads]")
                    worstLogit = max(worstLogit, abs(Double(result.logit) - item.logit64))
                }
            }
        }
        print("\(golden): \(cases.count) cases, max |logit − PyTorch float64| = \(worstLogit)")
    }

    func testTinyModelMatchesPyTorchLayerByLayer() throws {
        try check(golden: "tiny-golden", checkpoint: "tiny-pairrm-hf")
    }

    func testTinyOutlierModelMatchesPyTorchLayerByLayer() throws {
        try check(golden: "tiny-outliers-golden", checkpoint: "tiny-outliers")
    }

    /// Results do not depend on the thread count: bit for bit.
    func testThreadCountDoesNotChangeABit() throws {
        let (cases, _) = try load("tiny-golden")
        let model = try PairRMModel(path: RuntimeFixtures.model(.q8))
        let one = InferenceContext(model: model, maxTokens: 2048, threads: 1)
        let two = InferenceContext(model: model, maxTokens: 2048, threads: 2)
        let three = InferenceContext(model: model, maxTokens: 2048, threads: 3)
        for item in cases {
            let a = try model.score(ids: item.ids, positions: item.positions, context: one)
            let b = try model.score(ids: item.ids, positions: item.positions, context: two)
            let c = try model.score(ids: item.ids, positions: item.positions, context: three)
            XCTAssertEqual(a.logit.bitPattern, b.logit.bitPattern, item.name)
            XCTAssertEqual(a.logit.bitPattern, c.logit.bitPattern, item.name)
        }
    }
}
