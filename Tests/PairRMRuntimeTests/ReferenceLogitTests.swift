import Foundation
import PairRMConverter
import PairRMFormat
import PairRMTestSupport
import XCTest
@testable import PairRMRuntime

/// Logits of the tiny f32 model against the PyTorch reference recorded in tiny-expected.json.
final class ReferenceLogitTests: XCTestCase {
    struct Pair { var ids: [Int32]; var positions: [Int]; var logit32: Float; var logit64: Double }

    func referencePairs() throws -> [Pair] {
        let root = try FixtureObject(contentsOf: URL(fileURLWithPath: RuntimeFixtures.checkpoints + "/tiny-expected.json"))
        return try root.object("reference_forward").objects("pairs").flatMap { pair in
            try ["ab", "ba"].map { order in
                Pair(ids: try pair.int32s("ids_\(order)"), positions: try pair.ints("positions_\(order)"),
                     logit32: try pair.float("logit_\(order)_float32"), logit64: try pair.double("logit_\(order)_float64"))
            }
        }
    }

    func testF32LogitsMatchPyTorchOnEveryVariant() throws {
        let model = try PairRMModel(path: RuntimeFixtures.model(.f32))
        let pairs = try referencePairs()
        var worst = 0.0
        defer { print("f32 logits: max |ours − PyTorch float64| = \(worst)") }
        try RuntimeFixtures.forEachVariant { variant in
            for threads in [1, 2] {
                let context = InferenceContext(model: model, maxTokens: 256, threads: threads)
                for pair in pairs {
                    let result = try model.score(ids: pair.ids, positions: (pair.positions[0], pair.positions[1], pair.positions[2]), context: context)
                    XCTAssertEqual(Double(result.logit), pair.logit64, accuracy: 1e-4, "\(variant), \(threads) threads")
                    worst = max(worst, abs(Double(result.logit) - pair.logit64))
                }
            }
        }
    }
}

extension ReferenceLogitTests {
    /// The quantized recipes keep the verdicts of the reference on the tiny model.
    func testQuantizedLogitsStayNearTheReference() throws {
        let pairs = try referencePairs()
        for (recipe, tolerance) in [(WeightsRecipe.f16, 1e-3), (.q8, 0.05), (.q4, 0.25)] {
            let model = try PairRMModel(path: RuntimeFixtures.model(recipe))
            let context = InferenceContext(model: model, maxTokens: 256, threads: 1)
            var worst = 0.0
            for pair in pairs {
                let result = try model.score(ids: pair.ids, positions: (pair.positions[0], pair.positions[1], pair.positions[2]), context: context)
                worst = max(worst, abs(Double(result.logit) - pair.logit64))
            }
            print("\(recipe) logits: max |ours − PyTorch float64| = \(worst)")
            XCTAssertLessThan(worst, tolerance, "\(recipe)")
        }
    }
}
