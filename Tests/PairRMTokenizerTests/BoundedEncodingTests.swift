import Foundation
import XCTest
import PairRMFormat
@testable import PairRMTokenizer

/// Texts are read only as far as their token budget needs (issue 14, item 4): the ids must be
/// exactly the first ids of the whole text, and a space-free run too long to cut is refused.
final class BoundedEncodingTests: XCTestCase {
    func testCutTextGivesExactlyTheFirstIdsOfTheWholeText() throws {
        let t = try Fixtures.real()
        let corpus = String(decoding: try Fixtures.fixtureBytes(Fixtures.fixtureDirectory.appendingPathComponent("bench-corpus-head400.txt.zst").path),
                            as: UTF8.self)
        let paragraphs = corpus.split(separator: "\n").map(String.init)
        // Long texts (over the 64 KiB first window) of every script in the corpus, plus the
        // conformance cases' texts repeated, each joined with spaces and with newlines.
        var texts = [paragraphs.joined(separator: " "), paragraphs.joined(separator: "\n"), paragraphs.reversed().joined(separator: "  ")]
        let cases = try Fixtures.cases().map(\.text)
        texts.append(String(repeating: cases.joined(separator: " ") + " ", count: 3))
        for text in texts {
            let whole = try t.encodePart(prefix: "<|source|>", text: text)
            for limit in [1, 7, 300, 1222] {
                let bounded = try t.encodePart(prefix: "<|source|>", text: text, limit: limit)
                XCTAssertEqual(bounded.content, Array(whole.prefix(bounded.content.count)), "limit \(limit)")
                XCTAssertGreaterThan(bounded.content.count, limit, "limit \(limit)")
                XCTAssertFalse(bounded.isWhole, "a \(text.utf8.count)-byte text is cut for limit \(limit)")
                XCTAssertLessThan(bounded.content.count, whole.count, "only a part of the text was read")
            }
        }
        let short = "a short text"
        XCTAssertEqual(try t.encodePart(prefix: "<|candidate1|>", text: short, limit: 5).content,
                       try t.encodePart(prefix: "<|candidate1|>", text: short))
    }

    func testASpaceFreeRunTooLongToCutIsRefused() throws {
        let t = try Fixtures.real()
        let word = String(repeating: "x", count: Tokenizer.maxWordBytes + 10)
        XCTAssertThrowsError(try t.encodePart(prefix: "<|source|>", text: word, limit: 100)) { error in
            XCTAssertEqual((error as? TokenizerError)?.kind, .invalidArgument)
            XCTAssertTrue("\(error)".contains("space"), "\(error)")
        }
        // Under the cap it is exact, read whole.
        let smaller = String(repeating: "x", count: 200_000) + " tail"
        let bounded = try t.encodePart(prefix: "<|source|>", text: smaller, limit: 100)
        XCTAssertEqual(bounded.content, try t.encodePart(prefix: "<|source|>", text: smaller))
    }
}
