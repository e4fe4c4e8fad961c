import Foundation
import PairRMConverter
import XCTest
@testable import PairRMRuntime

/// The quantized recipes against the f32 path on the golden inputs, on the plain tiny model and on
/// the one with outlier LayerNorm channels (large gains/biases on a few hidden channels, as trained
/// BERT-family encoders have) — the case that breaks per-token int8 activations.
final class QuantizedFidelityTests: XCTestCase {
    func errors(checkpoint: String, golden: String, recipe: WeightsRecipe) throws -> (maxError: Double, meanLogit: Double) {
        let directory = RuntimeFixtures.repository.appendingPathComponent("Tests/Fixtures/golden")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("\(golden).json"))) as! [String: Any]
        let reference = try PairRMModel(path: RuntimeFixtures.model(.f32, checkpoint: checkpoint))
        let tested = try PairRMModel(path: RuntimeFixtures.model(recipe, checkpoint: checkpoint))
        let referenceContext = InferenceContext(model: reference, maxTokens: 2048, threads: 2)
        let testedContext = InferenceContext(model: tested, maxTokens: 2048, threads: 2)
        var worst = 0.0, magnitude = 0.0, count = 0.0
        for entry in json["cases"] as! [[String: Any]] where (entry["T"] as! NSNumber).intValue <= 600 {
            let ids = (entry["ids"] as! [NSNumber]).map(\.int32Value)
            let p = (entry["positions"] as! [NSNumber]).map(\.intValue)
            let expected = try reference.score(ids: ids, positions: (p[0], p[1], p[2]), context: referenceContext).logit
            let actual = try tested.score(ids: ids, positions: (p[0], p[1], p[2]), context: testedContext).logit
            worst = max(worst, Double(abs(actual - expected)))
            magnitude += Double(abs(expected)); count += 1
        }
        print("\(checkpoint) \(recipe): max |logit − f32| = \(worst) (mean |f32 logit| \(magnitude / count))")
        return (worst, magnitude / count)
    }

    func testQuantizedLogitsTrackF32() throws {
        for checkpoint in ["tiny-pairrm-hf", "tiny-outliers"] {
            let golden = checkpoint == "tiny-outliers" ? "tiny-outliers-golden" : "tiny-golden"
            let q8 = try errors(checkpoint: checkpoint, golden: golden, recipe: .q8)
            let q4 = try errors(checkpoint: checkpoint, golden: golden, recipe: .q4)
            XCTAssertLessThan(q8.maxError, 0.1 * q8.meanLogit + 0.02, "\(checkpoint) q8")
            XCTAssertLessThan(q4.maxError, 0.5 * q4.meanLogit + 0.1, "\(checkpoint) q4")
        }
    }
}
