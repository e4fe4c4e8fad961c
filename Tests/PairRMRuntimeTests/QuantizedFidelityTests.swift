import Foundation
import PairRMConverter
import PairRMFormat
import PairRMTestSupport
import XCTest
@testable import PairRMRuntime

/// The quantized recipes against the f32 path on the golden inputs, on the plain tiny model and on
/// the one with outlier LayerNorm channels (large gains/biases on a few hidden channels, as trained
/// BERT-family encoders have) — the case that breaks per-token int8 activations.
final class QuantizedFidelityTests: XCTestCase {
    func errors(checkpoint: String, golden: String, recipe: WeightsRecipe) throws -> (maxError: Double, meanLogit: Double) {
        let directory = RuntimeFixtures.repository.appendingPathComponent("Tests/Fixtures/golden")
        let json = try FixtureObject(contentsOf: directory.appendingPathComponent("\(golden).json"))
        let reference = try PairRMModel(path: RuntimeFixtures.model(.f32, checkpoint: checkpoint))
        let tested = try PairRMModel(path: RuntimeFixtures.model(recipe, checkpoint: checkpoint))
        let referenceContext = InferenceContext(model: reference, maxTokens: 2048, threads: 2)
        let testedContext = InferenceContext(model: tested, maxTokens: 2048, threads: 2)
        var worst = 0.0, magnitude = 0.0, count = 0.0
        for entry in try json.objects("cases") where try entry.int("T") <= 600 {
            let ids = try entry.int32s("ids")
            let p = try entry.ints("positions")
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
            let q8a8 = try errors(checkpoint: checkpoint, golden: golden, recipe: .q8a8)
            let q4 = try errors(checkpoint: checkpoint, golden: golden, recipe: .q4)
            XCTAssertLessThan(q8.maxError, 0.1 * q8.meanLogit + 0.02, "\(checkpoint) q8")
            XCTAssertLessThan(q8a8.maxError, 0.2 * q8a8.meanLogit + 0.04, "\(checkpoint) q8a8")
            XCTAssertLessThan(q4.maxError, 0.5 * q4.meanLogit + 0.1, "\(checkpoint) q4")
        }
    }

    func testActivationPlanRulesAreValidated() {
        XCTAssertThrowsError(try ActivationPlan(rules: ["ffn_output=INT4"])) { error in
            XCTAssertTrue("\(error)".contains("ffn_output=INT4"), "\(error)")
        }
        XCTAssertThrowsError(try ActivationPlan(rules: ["mlp=INT8"]))
        XCTAssertEqual(try ActivationPlan(rules: ActivationPlan.all(.int8).rules), .all(.int8))
        XCTAssertEqual(try ActivationPlan(rules: []), .all(.int16))
    }
}

/// The activation plans on the golden inputs (GoldenTests loads them).
extension GoldenTests {
    /// q8a8 is q8's file with a different activation plan: loading the q8 file with the int8 plan
    /// gives the q8a8 file's logits bit for bit, and the plan comes from the metadata.
    func testQ8A8IsQ8WithInt8Activations() throws {
        let q8 = try PairRMModel(path: RuntimeFixtures.model(.q8))
        let q8a8 = try PairRMModel(path: RuntimeFixtures.model(.q8a8))
        let overridden = try PairRMModel(path: RuntimeFixtures.model(.q8), activationPlan: .all(.int8))
        XCTAssertEqual(q8.activationPlan, .all(.int16))
        XCTAssertEqual(q8a8.activationPlan, .all(.int8))
        let (cases, _) = try load("tiny-golden")
        let contexts = [q8, q8a8, overridden].map { InferenceContext(model: $0, maxTokens: 2048, threads: 1) }
        var differs = false
        for item in cases {
            let a = try q8.score(ids: item.ids, positions: item.positions, context: contexts[0])
            let b = try q8a8.score(ids: item.ids, positions: item.positions, context: contexts[1])
            let c = try overridden.score(ids: item.ids, positions: item.positions, context: contexts[2])
            XCTAssertEqual(b.logit.bitPattern, c.logit.bitPattern, item.name)
            differs = differs || a.logit != b.logit
        }
        XCTAssertTrue(differs, "int8 activations must change something: the plan was not applied")
    }

    /// A mixed plan (int8 everywhere but the FFN output) runs and is bit-identical across thread counts.
    func testMixedPlanIsDeterministicAcrossThreads() throws {
        let plan = try ActivationPlan(rules: ["attention_input=INT8", "attention_output=INT8", "ffn_input=INT8", "ffn_output=INT16"])
        XCTAssertEqual(plan.width(of: .ffnOutput), .int16)
        let model = try PairRMModel(path: RuntimeFixtures.model(.q8), activationPlan: plan)
        let (cases, _) = try load("tiny-golden")
        let one = InferenceContext(model: model, maxTokens: 2048, threads: 1), two = InferenceContext(model: model, maxTokens: 2048, threads: 2)
        for item in cases {
            let a = try model.score(ids: item.ids, positions: item.positions, context: one)
            let b = try model.score(ids: item.ids, positions: item.positions, context: two)
            XCTAssertEqual(a.logit.bitPattern, b.logit.bitPattern, item.name)
        }
    }

    /// The last layer on the prefix rows only (no probe) gives the full layer's bits (probe) for the
    /// quantized plans too, with outlier channels (their f32 terms run on the kept rows).
    func testPrefixRowLastLayerIsBitIdenticalForQuantizedPlans() throws {
        let (cases, _) = try load("tiny-outliers-golden")
        for recipe in [WeightsRecipe.q8, .q8a8] {
            let model = try PairRMModel(path: RuntimeFixtures.model(recipe, checkpoint: "tiny-outliers"))
            for threads in [1, 2] {
                let context = InferenceContext(model: model, maxTokens: 2048, threads: threads)
                for item in cases where item.ids.count <= 700 {
                    let full = try model.score(ids: item.ids, positions: item.positions, context: context, probe: .hiddenStates { _, _ in })
                    let fast = try model.score(ids: item.ids, positions: item.positions, context: context)
                    XCTAssertEqual(fast.candidate1.bitPattern, full.candidate1.bitPattern, "\(recipe) \(item.name) \(threads) threads")
                    XCTAssertEqual(fast.candidate2.bitPattern, full.candidate2.bitPattern, "\(recipe) \(item.name) \(threads) threads")
                }
            }
        }
    }
}
