import XCTest
@testable import PairRMTokenizer

final class DecodeTests: XCTestCase {
    func testRoundTripOnPlainText() throws {
        let t = try Fixtures.real()
        for text in ["Hello, world!", "a b c", "漢字とかな", "emoji 😀 ok", "x = f(y) + 1;"] {
            XCTAssertEqual(t.decode(t.encode(text, mode: .sentencePiece), mode: .sentencePiece), text)
            XCTAssertEqual(t.decode(t.encode(text), mode: .pairRM), text)
        }
    }

    func testByteFallbackReassemblesUTF8() throws {
        let t = try Fixtures.real()
        let text = "rare 𪚥𩸽 kanji"
        let ids = t.encode(text, mode: .sentencePiece)
        XCTAssertTrue(ids.contains { (4..<260).contains($0) })
        XCTAssertEqual(t.decode(ids, mode: .sentencePiece), text)
        // HF mode lost those characters to [UNK].
        XCTAssertEqual(t.decode(t.encode(text), mode: .pairRM), "rare [UNK] kanji")
        // Malformed byte runs become one U+FFFD per byte.
        XCTAssertEqual(t.decode([507, 4 + 0xE2, 4 + 0x96], mode: .sentencePiece), "\u{FFFD}\u{FFFD}")
    }

    func testSpecialTokens() throws {
        let t = try Fixtures.real()
        let pair = try t.encodePair(source: "hello!", candidateA: "hi!", candidateB: "f**k off!")
        XCTAssertEqual(t.decode(pair.ids, skipSpecialTokens: true), "<|source|> hello!<|candidate1|> hi!<|candidate2|> f**k off!")
        XCTAssertEqual(t.decode([1, 128001, 12018, 300, 2]), "[CLS]<|source|> hello![SEP]")
        XCTAssertEqual(t.decode([1, 12018, 2], mode: .sentencePiece, skipSpecialTokens: true), "hello")
        XCTAssertEqual(t.decode([3], mode: .sentencePiece), " ⁇ ")
        XCTAssertEqual(t.decode([999_999, 12018]), "hello")   // unknown ids ignored
    }
}
