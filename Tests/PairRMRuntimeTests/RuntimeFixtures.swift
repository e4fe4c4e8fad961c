import Foundation
import PairRMConverter
import PairRMFormat
import PairRMKernels
import XCTest
@testable import PairRMRuntime

/// Converted tiny models, made once per test process from the committed fixture checkpoints.
enum RuntimeFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let checkpoints = repository.appendingPathComponent("Tests/Fixtures/checkpoints").path
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "pairrm-runtime-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    nonisolated(unsafe) private static var converted: [String: String] = [:]
    private static let lock = NSLock()

    /// Path of `checkpoint` converted with `recipe` (cached for the process).
    static func model(_ recipe: WeightsRecipe, checkpoint: String = "tiny-pairrm-hf") throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(checkpoint)-\(recipe.rawValue)"
        if let path = converted[key] { return path }
        let output = scratch + "/\(key).prm"
        _ = try Converter.convert(directory: checkpoints + "/" + checkpoint, output: output, options: ConversionOptions(weights: recipe))
        converted[key] = output
        return output
    }

    /// Every kernel variant this machine can run.
    static var variants: [prm_isa] {
        (0..<Int(PRM_ISA_COUNT.rawValue)).map { prm_isa(rawValue: UInt32($0)) }.filter { prm_isa_supported($0) != 0 }
    }

    /// Runs `body` once per kernel variant, restoring the best one afterwards.
    static func forEachVariant(_ body: (String) throws -> Void) rethrows {
        defer { prm_kernels_force(prm_isa_best()) }
        for variant in variants {
            XCTAssertEqual(prm_kernels_force(variant), 0)
            try body(String(cString: prm_isa_name(variant)))
        }
    }
}

/// Element-by-element comparison with a named tolerance, reporting the first mismatches, the
/// largest error and where it is (llm.c's habit).
func assertClose(_ actual: UnsafeBufferPointer<Float>, _ expected: UnsafeBufferPointer<Float>, relative: Float, absolute: Float,
                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): sizes differ", file: file, line: line)
    var mismatches: [String] = []
    var worst: (error: Float, index: Int) = (0, -1)
    for index in 0..<min(actual.count, expected.count) {
        let error = abs(actual[index] - expected[index])
        if error > worst.error { worst = (error, index) }
        if error > absolute + relative * abs(expected[index]) || error.isNaN {
            if mismatches.count < 5 { mismatches.append("[\(index)] \(actual[index]) vs \(expected[index])") }
        }
    }
    if !mismatches.isEmpty {
        XCTFail("\(what): first mismatches \(mismatches.joined(separator: ", ")); max |error| \(worst.error) at \(worst.index)",
                file: file, line: line)
    }
}
