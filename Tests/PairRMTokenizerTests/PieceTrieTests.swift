import Foundation
import XCTest
import PairRMFormat
@testable import PairRMTokenizer

/// The `PTRI` piece trie (Formats/prm-v1.md §7.1): builder against brute force, stored block vs
/// built at load, and validation of corrupt blocks.
final class PieceTrieTests: XCTestCase {
    /// Shared prefixes, a duplicate (keeps id 3), an empty piece, a NUL byte, multi-byte text,
    /// control and byte pieces.
    static let tinyPieces: [(String, PieceType)] = [
        ("<unk>", .unknown), ("[CLS]", .control), ("a", .normal), ("ab", .normal), ("abc", .normal), ("b", .normal),
        ("▁", .normal), ("▁ab", .normal), ("", .normal), ("ab", .normal), ("x\u{0}y", .normal), ("日本", .normal),
        ("<0x41>", .byte), ("c", .userDefined),
    ]

    static func contents(_ pieces: [[UInt8]], types: [PieceType], trie: [UInt8]?) -> VocabularyContents {
        VocabularyContents(pieces: pieces, scores: pieces.indices.map { -Float($0 % 7) - 1.5 }, types: types,
                           charsmap: [], addedTokens: [],
                           extraBlocks: trie.map { [VocabularyBlock(tag: PieceTrie.tag, bytes: $0)] } ?? [])
    }

    static var tiny: (pieces: [[UInt8]], types: [PieceType]) {
        (tinyPieces.map { Array($0.0.utf8) }, tinyPieces.map(\.1))
    }

    /// The ids of the pieces that are prefixes of `text`, shortest first (`first`: the first id
    /// of each non-empty piece string).
    static func bruteForce(_ first: [[UInt8]: Int], _ text: [UInt8]) -> [Int] {
        text.isEmpty ? [] : (1...text.count).compactMap { first[Array(text[0..<$0])] }
    }

    func matches(_ matcher: PieceMatcher, _ text: [UInt8]) -> [(Int, Int)] {
        var got: [(Int, Int)] = []
        text.withUnsafeBufferPointer { p in matcher.forEachPrefix(p, from: 0, limit: p.count) { got.append(($0, $1)) } }
        return got
    }

    func checkAgainstBruteForce(_ pieces: [[UInt8]], types: [PieceType], texts: [[UInt8]], file: StaticString = #filePath, line: UInt = #line) throws {
        let stored = try Tokenizer(vocabulary: Fixtures.view(of: Self.contents(pieces, types: types, trie: PieceTrie.block(pieces: pieces))))
        let built = try Tokenizer(vocabulary: Fixtures.view(of: Self.contents(pieces, types: types, trie: nil)))
        XCTAssertTrue(stored.matcher.isStored, file: file, line: line)
        XCTAssertFalse(built.matcher.isStored, file: file, line: line)
        var first: [[UInt8]: Int] = [:]
        for (id, p) in pieces.enumerated() where !p.isEmpty && first[p] == nil { first[p] = id }
        for text in texts + pieces {
            let expected = Self.bruteForce(first, text)
            for t in [stored, built] {
                let got = matches(t.matcher, text)
                XCTAssertEqual(got.map(\.0), expected, "\(text)", file: file, line: line)
                XCTAssertEqual(got.map(\.1), expected.map { pieces[$0].count }, "\(text)", file: file, line: line)
            }
            for mode in [TokenizerMode.pairRM, .sentencePiece] {
                XCTAssertEqual(stored.encode(bytes: text, mode: mode), built.encode(bytes: text, mode: mode), "\(text)", file: file, line: line)
            }
        }
    }

    func testTinyVocabularyAgainstBruteForce() throws {
        let (pieces, types) = Self.tiny
        let texts = ["abcd", "ab", "▁abc", "x\u{0}yz", "x\u{0}", "日本語", "<0x41>", "cab", "", "zz", "[CLS]a"].map { Array($0.utf8) }
        try checkAgainstBruteForce(pieces, types: types, texts: texts)
    }

    /// Random vocabularies big enough to fill and close many 256-unit blocks.
    func testRandomVocabulariesAgainstBruteForce() throws {
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int(seed >> 33) }
        let alphabets: [[UInt8]] = [[0x61, 0x62, 0x63], [0x00, 0x41, 0x7F, 0x80, 0xE2, 0xFF], Array(0...255)]
        for round in 0..<6 {
            let alphabet = alphabets[round % alphabets.count]
            var pieces: [[UInt8]] = [Array("<unk>".utf8)]
            for _ in 0..<(500 + next() % 3000) {
                let length = next() % 9
                pieces.append((0..<length).map { _ in alphabet[next() % alphabet.count] })
            }
            let types = pieces.indices.map { $0 == 0 ? PieceType.unknown : PieceType.normal }
            let texts = (0..<300).map { _ in (0..<(next() % 14)).map { _ in alphabet[next() % alphabet.count] } }
            try checkAgainstBruteForce(pieces, types: types, texts: texts)
        }
    }

    /// The real vocabulary: the stored block is what the builder makes from the view, and the
    /// tokenizer built at load encodes the benchmark corpus identically.
    func testRealStoredTrieMatchesBuiltTrie() throws {
        let stored = try Fixtures.real()
        XCTAssertTrue(stored.matcher.isStored)
        let view = stored.vocabulary
        let units = PieceTrie.build(offsets: view.pieceOffsets, bytes: view.pieceBytes.bindMemory(to: UInt8.self))
        let block = try XCTUnwrap(view.blocks[PieceTrie.tag])
        XCTAssertEqual(block.count, PieceTrie.headerSize + 8 * units.count)
        XCTAssertTrue(units.enumerated().allSatisfy { block.loadUnaligned(fromByteOffset: PieceTrie.headerSize + 8 * $0.offset, as: UInt64.self) == $0.element })
        print("PTRI for \(view.pieceCount) pieces: \(units.count) units, \(block.count) bytes")

        let built = try Tokenizer(vocabulary: Fixtures.view(of: Fixtures.realContents(withTrie: false)))
        XCTAssertFalse(built.matcher.isStored)
        let corpus = try Fixtures.fixtureBytes(Fixtures.fixtureDirectory.appendingPathComponent("bench-corpus-head400.txt.zst").path)
        let paragraphs = String(decoding: corpus, as: UTF8.self).split(separator: "\n").prefix(400)
        for p in paragraphs {
            for mode in [TokenizerMode.pairRM, .sentencePiece] {
                XCTAssertEqual(stored.encode(String(p), mode: mode), built.encode(String(p), mode: mode))
            }
        }
    }

    // MARK: - Corrupt blocks

    private func unit(_ block: [UInt8], _ t: Int) -> UInt64 {
        block.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: PieceTrie.headerSize + 8 * t, as: UInt64.self) }
    }
    private func setUnit(_ block: inout [UInt8], _ t: Int, _ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { block.replaceSubrange((PieceTrie.headerSize + 8 * t)..<(PieceTrie.headerSize + 8 * t + 8), with: $0) }
    }
    private func setU32(_ block: inout [UInt8], _ offset: Int, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { block.replaceSubrange(offset..<(offset + 4), with: $0) }
    }
    private func base(_ u: UInt64) -> Int { Int((u >> 9) & 0x7F_FFFF) }
    private func withBase(_ u: UInt64, _ b: Int) -> UInt64 { u & ~(UInt64(0x7F_FFFF) << 9) | UInt64(b) << 9 }
    private func withID(_ u: UInt64, _ idPlusOne: Int) -> UInt64 { u & 0xFFFF_FFFF | UInt64(idPlusOne) << 32 }

    func testCorruptBlocksAreRejected() throws {
        let (pieces, types) = Self.tiny
        let good = PieceTrie.block(pieces: pieces)
        let unitCount = (good.count - PieceTrie.headerSize) / 8
        let root = unit(good, 0)
        let a = base(root) ^ 0x61, b = base(root) ^ 0x62
        let ab = base(unit(good, a)) ^ 0x62
        let free = try XCTUnwrap((256..<unitCount).first { unit(good, $0) == 0 })
        XCTAssertEqual(Int(unit(good, a) >> 32), 2 + 1)
        XCTAssertEqual(Int(unit(good, ab) >> 32), 3 + 1)

        var cases: [(String, [UInt8])] = []
        func mutate(_ expected: String, _ body: (inout [UInt8]) -> Void) {
            var block = good
            body(&block)
            cases.append((expected, block))
        }
        mutate("PTRI.size") { $0 = Array($0.prefix(10)) }
        mutate("PTRI.size") { $0.removeLast(8) }
        mutate("PTRI.size") { $0.append(contentsOf: [UInt8](repeating: 0, count: 8)) }
        mutate("PTRI.unit_count") { self.setU32(&$0, 0, 100) }
        mutate("PTRI.unit_count") { self.setU32(&$0, 0, 0) }
        mutate("PTRI.piece_count") { self.setU32(&$0, 4, UInt32(pieces.count + 1)) }
        mutate("PTRI.reserved") { self.setU32(&$0, 12, 1) }
        mutate("PTRI.pieces_xxh64") { $0[16] ^= 1 }
        mutate("PTRI.pieces_xxh64") { $0 = PieceTrie.block(pieces: pieces.map { $0 == Array("abc".utf8) ? Array("abd".utf8) : $0 }) }
        mutate("PTRI.units[0]") { self.setUnit(&$0, 0, self.withID(root, 1)) }
        mutate("PTRI.units[0]") { self.setUnit(&$0, 0, root | 0x100) }
        mutate("PTRI.units[5]") { self.setUnit(&$0, 5, 0x100 | 0x05) }
        mutate("PTRI.units[\(free)]") { self.setUnit(&$0, free, 0x200) }
        mutate("PTRI.units[\(a)].base") { self.setUnit(&$0, a, self.withBase(self.unit(good, a), unitCount)) }
        mutate("PTRI.units[") { self.setUnit(&$0, ab, self.withBase(self.unit(good, ab), self.base(self.unit(good, a)))) }
        mutate("PTRI.units[\(b)].id") { self.setUnit(&$0, b, self.withID(self.unit(good, b), pieces.count + 1)) }
        mutate("PTRI.units[") { self.setUnit(&$0, b, self.withID(self.unit(good, b), 2 + 1)) }   // id 2 twice
        mutate("PTRI.units[\(b)].id") { self.setUnit(&$0, b, self.withID(self.unit(good, b), 4 + 1)) }   // "abc" at label b
        mutate("PTRI.entry_count") { self.setU32(&$0, 8, UInt32(pieces.count)) }
        mutate("PTRI.entry_count") { self.setUnit(&$0, b, self.withID(self.unit(good, b), 0)) }

        XCTAssertNoThrow(try Tokenizer(vocabulary: Fixtures.view(of: Self.contents(pieces, types: types, trie: good))))
        for (expected, block) in cases {
            XCTAssertThrowsError(try Tokenizer(vocabulary: Fixtures.view(of: Self.contents(pieces, types: types, trie: block)))) { error in
                guard let error = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.kind, .malformed)
                XCTAssertTrue(error.field.hasPrefix(expected), "expected \(expected): \(error)")
            }
        }
    }

    /// Random bit flips in the units: load either throws a PTRI error or the walks stay in bounds.
    func testRandomCorruptionNeverCrashes() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int(seed >> 33) }
        let alphabet: [UInt8] = [0x61, 0x62, 0x63, 0x64, 0x20, 0xE2, 0x96, 0x81]
        var pieces: [[UInt8]] = [Array("<unk>".utf8)]
        for _ in 0..<1500 { pieces.append((0..<(1 + next() % 6)).map { _ in alphabet[next() % alphabet.count] }) }
        let types = pieces.indices.map { $0 == 0 ? PieceType.unknown : PieceType.normal }
        let good = PieceTrie.block(pieces: pieces)
        let unitCount = (good.count - PieceTrie.headerSize) / 8
        let texts = (0..<50).map { _ in (0..<(next() % 40)).map { _ in alphabet[next() % alphabet.count] } }
        var rejected = 0
        for round in 0..<200 {
            var block = good
            for _ in 0..<(1 + round % 4) {
                let t = round % 3 == 0 ? next() % 512 : next() % unitCount
                block[PieceTrie.headerSize + 8 * t + next() % 8] ^= UInt8(1 << (next() % 8))
            }
            do {
                let t = try Tokenizer(vocabulary: Fixtures.view(of: Self.contents(pieces, types: types, trie: block)))
                for text in texts {
                    _ = t.encode(bytes: text, mode: .pairRM)
                    _ = t.encode(bytes: text, mode: .sentencePiece)
                }
            } catch let error as TokenizerError {
                rejected += 1
                XCTAssertTrue(error.field.hasPrefix("PTRI."), "\(error)")
            }
        }
        print("corrupted piece tries rejected: \(rejected)/200")
    }
}
