import Foundation
import PairRMConverter
import PairRMFormat
import PairRMKernels
import PairRMTestSupport
import XCTest
@testable import PairRMRuntime

/// Converted tiny models, made once per test process from the committed fixture checkpoints.
enum RuntimeFixtures {
    static let repository = TestPaths.repository
    static let checkpoints = TestPaths.checkpoints

    /// Path of `checkpoint` converted with `recipe` (cached for the process, PairRMTestSupport).
    static func model(_ recipe: WeightsRecipe, checkpoint: String = "tiny-pairrm-hf") throws -> String {
        try ConvertedFixtures.model(recipe, checkpoint: checkpoint)
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
