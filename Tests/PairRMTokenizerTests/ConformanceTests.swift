import Foundation
import XCTest
@testable import PairRMTokenizer

/// Every case of the 308 reference cases (Tests/Fixtures/tokenizer/tokenizer-cases.jsonl.zst) and our generated extras, both modes.
final class ConformanceTests: XCTestCase {
    private func check(_ mode: TokenizerMode, path: String = Fixtures.casesPath, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = try Fixtures.real()
        let cases = try Fixtures.cases(path)
        var failures: [String] = []
        for c in cases {
            let expected = mode == .pairRM ? c.hfExpected : c.ids
            let got = tokenizer.encode(c.text, mode: mode)
            if got != expected {
                let i = Fixtures.firstDifference(got, expected)
                let window = { (a: [Int32]) in Array(a[max(0, i - 3)..<min(a.count, i + 5)]) }
                failures.append("\(c.id) [\(c.category)] first diff at \(i): expected …\(window(expected))… got …\(window(got))… (len \(expected.count) vs \(got.count)) text=\(c.text.prefix(60).debugDescription)")
            }
        }
        print("conformance \(mode) \((path as NSString).lastPathComponent): \(cases.count - failures.count)/\(cases.count) exact")
        XCTAssert(failures.isEmpty, "\(failures.count) of \(cases.count) cases differ:\n" + failures.joined(separator: "\n"), file: file, line: line)
    }

    func testPairRMModeMatchesHuggingFaceFast() throws { try check(.pairRM) }
    func testSentencePieceModeMatchesSentencePiece() throws { try check(.sentencePiece) }

    /// Tests/Fixtures/tokenizer/extra-cases.jsonl (Tools/python/pairrm_reference/tokenizer/make_extra_cases.py).
    static let extraPath = Fixtures.repoRoot.appendingPathComponent("Tests/Fixtures/tokenizer/extra-cases.jsonl").path
    func testPairRMModeOnExtraCases() throws { try check(.pairRM, path: Self.extraPath) }
    func testSentencePieceModeOnExtraCases() throws { try check(.sentencePiece, path: Self.extraPath) }
}
