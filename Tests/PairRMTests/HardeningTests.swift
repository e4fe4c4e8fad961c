import Foundation
import PairRM
import PairRMConverter
import PairRMFormat
import PairRMRuntime
import PairRMTestSupport
import XCTest
import PairRMSchema

/// Inputs that used to trap, hang or answer silently wrong (issue 14): each is now a clear error.
final class HardeningTests: XCTestCase {
    let scratch = TestPaths.scratch("hardening")

    func convert(_ name: String, overrides: [String: MetadataValue?]) throws -> String {
        var options = ConversionOptions(weights: .f32)
        options.metadataOverrides = overrides
        let output = scratch + "/\(name).prm"
        _ = try Converter.convert(directory: TestPaths.checkpoints + "/tiny-pairrm-hf", output: output, options: options)
        return output
    }

    func expectError<T>(_ kind: PairRMError.Kind, mentioning words: [String] = [], _ body: () throws -> T,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? PairRMError else { return XCTFail("not a PairRMError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            for word in words { XCTAssertTrue(error.description.contains(word), "\"\(word)\" missing from \(error)", file: file, line: line) }
        }
    }

    /// Item 2: budgets whose sum overflows Int (from a command line or a model file) are refused.
    func testBudgetsThatOverflowAreRefusedNotTrapped() throws {
        let model = try PairRMModel(path: ConvertedFixtures.model(.f32))
        for (source, candidate) in [(Int.max, 412), (1224, 1 << 62), (Int.max, Int.max), (1 << 62, 1 << 62)] {
            var options = PairRanker.defaultOptions(for: model)
            options.sourceMaxLength = source
            options.candidateMaxLength = candidate
            XCTAssertEqual(options.maxTokens, Int.max)
            expectError(.invalidArgument, mentioning: ["exceeds"]) { try PairRanker(model: model, options: options) }
        }
        let absurd = try convert("absurd-budget", overrides: [MetadataKey.pairrmCandidateMaxLength: .int(1 << 62)])
        expectError(.invalidArgument, mentioning: ["exceeds"]) { try PairRanker(path: absurd) }
    }

    /// Item 8: a NaN weight behind an unverified checksum gives an error naming the model file,
    /// not {"logit": null}; a non-positive layer_norm_eps is refused at load.
    func testNonFiniteLogitIsAnErrorNamingTheModel() throws {
        let path = scratch + "/nan-weight.prm"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: try ConvertedFixtures.model(.f32), toPath: path)
        let file = try ModelFile(path: path)
        let tensor = try XCTUnwrap(file.tensor(named: TensorNames.bias(TensorNames.headOutput)))
        let offset = Int(file.section(.tensorData).offset) + tensor.offset
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seek(toOffset: UInt64(offset))
        handle.write(Data(withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Array($0) }))
        try handle.close()
        let ranker = try PairRanker(path: path)
        expectError(.nonFiniteResult, mentioning: [path, "pairrm verify"]) { try ranker.compare("2+2?", "4", "5") }
        // The checksum catches the same damage when verification is asked for at load.
        XCTAssertThrowsError(try PairRMModel(path: path, options: LoadOptions(verifyTensors: true)))

        for eps in [-1.0, 0.0, Double.nan, Double.infinity] {
            let bad = try convert("eps-\(eps)", overrides: [MetadataKey.modelLayerNormEps: .double(eps)])
            XCTAssertThrowsError(try PairRMModel(path: bad), "eps \(eps)") { error in
                XCTAssertTrue("\(error)".contains(MetadataKey.modelLayerNormEps), "\(error)")
            }
        }
    }

    /// Item 5: a model read into memory (no mmap) survives its file being truncated in place,
    /// and scores exactly like the mapped one.
    func testReadIntoMemorySurvivesTheFileBeingTruncated() throws {
        let path = scratch + "/truncated.prm"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: try ConvertedFixtures.model(.f32), toPath: path)
        let mapped = try PairRanker(path: ConvertedFixtures.model(.f32))
        let inMemory = try PairRanker(model: PairRMModel(path: path, options: LoadOptions(readIntoMemory: true)))
        XCTAssertEqual(truncate(path, 100), 0)
        XCTAssertEqual(try inMemory.compare("2+2?", "4", "5").logit, try mapped.compare("2+2?", "4", "5").logit)
        XCTAssertThrowsError(try PairRMModel(path: path, options: LoadOptions(readIntoMemory: true)), "a 100-byte file is refused")
    }
}
