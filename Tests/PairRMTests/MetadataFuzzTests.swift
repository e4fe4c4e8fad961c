import Foundation
import PairRM
import PairRMConverter
import PairRMFormat
import PairRMRuntime
import PairRMTestSupport
import PairRMTokenizer
import XCTest
import PairRMSchema

/// Fuzzing behind the checksums, where the container fuzzer cannot reach: files whose checksums
/// are all valid (the converter writes them) but whose metadata holds hostile values — NaN and
/// infinite floats, huge and negative integers, wrong types, missing keys — are loaded and used
/// for scoring. Each must either be refused with an error or give finite results; nothing may
/// trap. Bounded by PAIRRM_FUZZ_SECONDS (default 8) and by iterations; seeded and printed.
final class MetadataFuzzTests: XCTestCase {
    static let keys = [
        MetadataKey.modelHiddenSize, MetadataKey.modelNumLayers, MetadataKey.modelNumHeads, MetadataKey.modelIntermediateSize,
        MetadataKey.modelVocabSize, MetadataKey.modelLayerNormEps, MetadataKey.modelPositionBuckets,
        MetadataKey.modelMaxRelativePositions, MetadataKey.pairrmSourceMaxLength, MetadataKey.pairrmCandidateMaxLength,
        MetadataKey.tokensClsId, MetadataKey.tokensSepId, MetadataKey.tokensUnkId, MetadataKey.tokensSourcePrefixId,
        MetadataKey.tokensCandidate1PrefixId, MetadataKey.tokensCandidate2PrefixId, MetadataKey.tokenizerAddDummyPrefix,
        MetadataKey.tokenizerRemoveExtraWhitespaces, MetadataKey.quantizationOutlierRatio, MetadataKey.generalWeights,
    ]
    static let values: [MetadataValue?] = [
        .double(.nan), .double(.infinity), .double(-.infinity), .double(-1), .double(0), .double(1e300),
        .int(Int64(1) << 62), .int(Int64.max), .int(Int64.min), .int(-1), .int(0), .int(3),
        .string("x"), .bool(true), .array([]), nil,
    ]

    func testHostileMetadataIsRefusedOrScoresFinitely() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["PAIRRM_FUZZ_SECONDS"] ?? "") ?? 8
        let seed = UInt64(ProcessInfo.processInfo.environment["PAIRRM_FUZZ_SEED"] ?? "") ?? 14
        print("metadata fuzz seed \(seed) (PAIRRM_FUZZ_SEED replays another)")
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        let scratch = TestPaths.scratch("metadata-fuzz")
        let deadline = Date().addingTimeInterval(seconds)
        var refused = 0, scored = 0, iterations = 0
        while iterations < 400 && (iterations < 12 || Date() < deadline) {
            iterations += 1
            var overrides: [String: MetadataValue?] = [:]
            for _ in 0..<(1 + next(2)) { overrides[Self.keys[next(Self.keys.count)]] = Self.values[next(Self.values.count)] }
            var options = ConversionOptions(weights: [.f32, .q8][next(2)])
            options.metadataOverrides = overrides
            let path = scratch + "/mutant.prm"
            _ = try Converter.convert(directory: TestPaths.checkpoints + "/tiny-pairrm-hf", output: path, options: options)
            do {
                let ranker = try PairRanker(path: path)
                let comparison = try ranker.compare("What is 2+2?", "4", "five [SEP] 5")
                XCTAssertTrue(comparison.logit.isFinite, "\(overrides): \(comparison.logit)")
                let ranking = try ranker.rank("Name a color.", ["red", "blue", "a very long answer " + String(repeating: "word ", count: 300)])
                XCTAssertTrue(ranking.scores?.allSatisfy(\.isFinite) ?? true, "\(overrides)")
                scored += 1
            } catch is PairRMError {
                refused += 1
            } catch is RuntimeError {
                refused += 1
            } catch is FormatError {
                refused += 1
            } catch is TokenizerError {
                refused += 1
            }
        }
        print("metadata fuzz: \(iterations) mutants, \(scored) scored finitely, \(refused) refused")
        XCTAssertGreaterThan(refused, 0)
    }
}
