import Foundation
import PairRMConverter

/// The committed tiny checkpoints converted once per test process and recipe: the one copy of
/// this logic for every test target.
public enum ConvertedFixtures {
    nonisolated(unsafe) private static var converted: [String: String] = [:]
    private static let lock = NSLock()
    private static let scratch = TestPaths.scratch("fixtures")

    /// Path of `checkpoint` (a folder of Tests/Fixtures/checkpoints) converted with `recipe`.
    public static func model(_ recipe: WeightsRecipe, checkpoint: String = "tiny-pairrm-hf") throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(checkpoint)-\(recipe.rawValue)"
        if let path = converted[key] { return path }
        let output = scratch + "/\(key).prm"
        _ = try Converter.convert(directory: TestPaths.checkpoints + "/" + checkpoint, output: output, options: ConversionOptions(weights: recipe))
        converted[key] = output
        return output
    }
}
