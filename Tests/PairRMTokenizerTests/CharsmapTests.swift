import XCTest
import PairRMFormat
@testable import PairRMTokenizer

final class CharsmapTests: XCTestCase {
    private func charsmap(_ blob: [UInt8]) throws -> Charsmap {
        try blob.withUnsafeBytes { try Charsmap(blob: $0) }
    }

    private func realBlob() throws -> [UInt8] {
        _ = try Fixtures.real()
        return try Fixtures.realContents().charsmap
    }

    func testRealCharsmapContents() throws {
        let blob = try realBlob()
        try blob.withUnsafeBytes { raw in
            let c = try Charsmap(blob: raw)
            let rules = c.allRules()
            XCTAssertEqual(rules.count, 224_711)   // Formats/tokenizer.md §2.3
            XCTAssertEqual(rules.map(\.key.count).max(), 10)
            let map = Dictionary(rules.map { ($0.key, $0.replacement) }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(map[Array("\u{3000}".utf8)], [0x20])
            XCTAssertEqual(map[Array("\u{200B}".utf8)], [0x20])
            XCTAssertEqual(map[Array("\u{1}".utf8)], [])
            XCTAssertEqual(map[Array("Ａ".utf8)], Array("A".utf8))
            XCTAssertNil(map[Array("\u{FF5E}".utf8)])
            XCTAssertNil(map[[0]])
        }
    }

    func testMalformedHeadersThrow() throws {
        XCTAssertThrowsError(try charsmap([1, 0]))                          // shorter than trie_size
        XCTAssertThrowsError(try charsmap([5, 0, 0, 0, 0, 0, 0, 0, 0, 0]))   // not a multiple of 4
        XCTAssertThrowsError(try charsmap([0, 0, 0, 0, 0]))                 // zero units
        XCTAssertThrowsError(try charsmap([16, 0, 0, 0, 0, 0, 0, 0]))        // past the blob
        XCTAssertNoThrow(try charsmap([]))                                  // no rules = identity
        let blob = try realBlob()
        var noNUL = blob
        noNUL[noNUL.count - 1] = 0x41
        XCTAssertThrowsError(try charsmap(noNUL)) { error in
            XCTAssertTrue("\(error)".contains("CMAP.pool"), "\(error)")
        }
    }

    /// Random corruption of units and pool offsets never crashes: either load throws a
    /// TokenizerError, or the search stays in bounds.
    func testCorruptedUnitsNeverCrash() throws {
        let blob = try realBlob()
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int(seed >> 33) }
        var thrown = 0
        let probe = Array("ＡＢＣ ｶﾞ ①\u{301} ㄱㅏ text\u{3000}".utf8)
        for round in 0..<60 {
            var bad = blob
            // Corrupt the first units (root region, always reachable) and some random ones.
            for _ in 0..<8 {
                let unit = round % 2 == 0 ? next() % 64 : next() % (trieSize / 4)
                let byte = 4 + unit * 4 + next() % 4
                bad[byte] = UInt8(truncatingIfNeeded: next())
            }
            do {
                let c = try charsmap(bad)
                probe.withUnsafeBufferPointer { p in
                    for i in 0..<p.count {
                        _ = c.longestMatch(p, from: i)
                        _ = c.firstMatch(p, from: i, limit: p.count)
                    }
                }
            } catch let error as TokenizerError {
                thrown += 1
                XCTAssertTrue(error.field.hasPrefix("CMAP."), "\(error)")
            }
        }
        print("corrupted charsmaps rejected: \(thrown)/60")
    }

    func testTokenizerRejectsBadVocabulary() throws {
        var contents = try Fixtures.realContents()
        contents.charsmap = [8, 0, 0, 0, 1, 2]
        XCTAssertThrowsError(try Tokenizer(vocabulary: Fixtures.view(of: contents))) { error in
            XCTAssertTrue("\(error)".contains("CMAP.trie_size"), "\(error)")
        }
        contents = try Fixtures.realContents()
        contents.addedTokens.append(AddedToken(id: 5, content: "x", special: false, normalized: true, singleWord: true))
        XCTAssertThrowsError(try Tokenizer(vocabulary: Fixtures.view(of: contents)))
    }
}
