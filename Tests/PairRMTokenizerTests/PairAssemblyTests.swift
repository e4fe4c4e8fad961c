import XCTest
@testable import PairRMTokenizer

/// Formats/pairrm-model.md §2.1/§2.2/§2.6 fixtures (verified against the fast tokenizer with the real spm).
final class PairAssemblyTests: XCTestCase {
    func testSpecFixtures() throws {
        let t = try Fixtures.real()
        let fixtures: [((String, String, String), [Int32], (Int, Int, Int))] = [
            (("hello!", "hi!", "f**k off!"),
             [1, 128001, 12018, 300, 2, 1, 128002, 8595, 300, 2, 1, 128003, 2994, 1225, 1225, 1165, 442, 300, 2], (1, 6, 11)),
            (("I love you!", "I hate you!", "I love you, too!"),
             [1, 128001, 273, 472, 274, 300, 2, 1, 128002, 273, 3254, 274, 300, 2, 1, 128003, 273, 472, 274, 261, 461, 300, 2], (1, 8, 15)),
            (("hello!", "f**k off!", "hi!"),
             [1, 128001, 12018, 300, 2, 1, 128002, 2994, 1225, 1225, 1165, 442, 300, 2, 1, 128003, 8595, 300, 2], (1, 6, 15)),
        ]
        for ((s, a, b), ids, positions) in fixtures {
            let pair = try t.encodePair(source: s, candidateA: a, candidateB: b)
            XCTAssertEqual(pair.ids, ids, "\((s, a, b))")
            XCTAssertEqual(pair.sourcePosition, positions.0)
            XCTAssertEqual(pair.candidateAPosition, positions.1)
            XCTAssertEqual(pair.candidateBPosition, positions.2)
        }
    }

    /// Formats/pairrm-model.md §2.1 table: `encode(prefix + text)` with [CLS]/[SEP] around it.
    func testSegmentTable() throws {
        let t = try Fixtures.real()
        func wrapped(_ text: String) -> [Int32] { [1] + t.encode(text) + [2] }
        XCTAssertEqual(wrapped("<|source|>hello!"), [1, 128001, 12018, 300, 2])
        XCTAssertEqual(wrapped("<|source|> hello!"), [1, 128001, 12018, 300, 2])
        XCTAssertEqual(wrapped("<|source|>\n\nhello!  "), [1, 128001, 12018, 300, 2])
        XCTAssertEqual(wrapped("<|candidate|>hi!"), [1, 128004, 8595, 300, 2])
        XCTAssertEqual(wrapped("<|source|>a\nb\tc   d"), [1, 128001, 266, 2165, 2285, 1931, 2])
        XCTAssertEqual(wrapped("<|source|>x<|source|>y"), [1, 128001, 1204, 128001, 2982, 2])
        XCTAssertEqual(wrapped("<|source|>🧬🦠"), [1, 128001, 507, 3, 2])
        XCTAssertEqual(wrapped("<|source|><0x41>"), [1, 128001, 507, 69, 2])
        XCTAssertEqual(wrapped("<|source|>hello [SEP] world"), [1, 128001, 12018, 2, 447, 2])
        XCTAssertEqual(wrapped("<|source|>"), [1, 128001, 2])
    }

    /// The one deliberate difference: prefix strings in user text never become prefix ids.
    func testPrefixStringsInUserTextArePlainText() throws {
        let t = try Fixtures.real()
        let pair = try t.encodePair(source: "x<|source|>y", candidateA: "<|candidate2|> a", candidateB: "<|candidate|>")
        let prefixIDs: Set<Int32> = [128001, 128002, 128003, 128004]
        XCTAssertEqual(pair.ids.filter(prefixIDs.contains), [128001, 128002, 128003])
        XCTAssertEqual(pair.ids[pair.sourcePosition], 128001)
        XCTAssertEqual(pair.ids[pair.candidateAPosition], 128002)
        XCTAssertEqual(pair.ids[pair.candidateBPosition], 128003)
        // The text is still encoded, as the plain characters.
        let plain = t.encode("x<|source|>y", mode: .sentencePiece)
        XCTAssertGreaterThan(plain.count, 3)
        // Without prefix strings, the assembly equals encode(prefix + text) (reference behaviour).
        let reference = try t.encodePair(source: "Tell me a joke.", candidateA: "No.", candidateB: "Why did the chicken…")
        let expected = [1] + t.encode("<|source|>Tell me a joke.") + [2] + [1] + t.encode("<|candidate1|>No.") + [2]
            + [1] + t.encode("<|candidate2|>Why did the chicken…") + [2]
        XCTAssertEqual(reference.ids, expected)
    }

    /// Edge inputs where the combined-string pipeline matters (Strip only at the real ends).
    func testWhitespaceAroundPrefixMatchesCombinedEncoding() throws {
        let t = try Fixtures.real()
        for text in ["", " ", "\u{85}hi", "\u{200B}", " \u{200B} x ", "\u{301}a", "[SEP]", "[CLS] a [SEP]"] {
            let pair = try t.encodePair(source: text, candidateA: text, candidateB: text)
            let s = [1] + t.encode("<|source|>" + text) + [2]
            XCTAssertEqual(Array(pair.ids[0..<s.count]), s, text.debugDescription)
        }
    }

    func testTruncation() throws {
        let t = try Fixtures.real()
        let long = String(repeating: "word ", count: 3000)
        let pair = try t.encodePair(source: long, candidateA: long, candidateB: "short")
        // Source: exactly 1224 ids, [CLS] first, [SEP] last.
        XCTAssertEqual(pair.candidateAPosition, 1225)
        let cap = (1224 + 2 * 412 - 1224) / 2
        XCTAssertEqual(pair.candidateBPosition - pair.candidateAPosition, cap)
        XCTAssertEqual(pair.ids[1223], 2)
        XCTAssertEqual(pair.ids[1224], 1)
        XCTAssertEqual(pair.ids.last, 2)
        XCTAssertLessThanOrEqual(pair.ids.count, 2048)
        // A short source leaves the rest of the budget to the candidates, evenly.
        let short = try t.encodePair(source: "hi", candidateA: long, candidateB: long)
        let ls = short.candidateAPosition - 1
        let shortCap = (2048 - ls) / 2
        XCTAssertEqual(short.candidateBPosition - short.candidateAPosition, shortCap)
        XCTAssertEqual(short.ids.count, ls + 2 * shortCap)
        XCTAssertThrowsError(try t.encodePair(source: "a", candidateA: "b", candidateB: "c", sourceMaxLength: 2))
    }
}
