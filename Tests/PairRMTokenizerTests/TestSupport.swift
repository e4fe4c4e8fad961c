import Foundation
import XCTest
import PairRMConverter
import PairRMFormat
@testable import PairRMTokenizer

/// Shared fixtures: the real DeBERTa-v3 vocabulary (with PairRM's added-token table) and the
/// 308 conformance cases, committed zstd-compressed under Tests/Fixtures/tokenizer (copies of
/// the MIT-licensed spm.model and the reference cases; Tests/Fixtures/tokenizer/README.md),
/// loaded once per test process, so a fresh clone tests the tokenizer fully.
enum Fixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtureDirectory = repoRoot.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let spmPath = fixtureDirectory.appendingPathComponent("deberta-v3-spm.model.zst").path
    static let casesPath = fixtureDirectory.appendingPathComponent("tokenizer-cases.jsonl.zst").path

    /// A committed fixture, decompressed when it ends in .zst.
    static func fixtureBytes(_ path: String) throws -> [UInt8] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return path.hasSuffix(".zst") ? try Zstd.decompressFrame(bytes, file: path) : bytes
    }

    /// Formats/tokenizer.md §6.1: the added-token table PairRM's fast tokenizer ends up with.
    static let pairRMAddedTokens: [AddedToken] = [
        AddedToken(id: 0, content: "[PAD]", special: true, normalized: false),
        AddedToken(id: 1, content: "[CLS]", special: true, normalized: false),
        AddedToken(id: 2, content: "[SEP]", special: true, normalized: false),
        AddedToken(id: 3, content: "[UNK]", special: true, normalized: true),
        AddedToken(id: 128000, content: "[MASK]", special: true, normalized: false),
        AddedToken(id: 128001, content: "<|source|>", special: false, normalized: true),
        AddedToken(id: 128002, content: "<|candidate1|>", special: false, normalized: true),
        AddedToken(id: 128003, content: "<|candidate2|>", special: false, normalized: true),
        AddedToken(id: 128004, content: "<|candidate|>", special: false, normalized: true),
    ]

    static func view(of contents: VocabularyContents) throws -> VocabularyView {
        let encoded = contents.encoded()
        let buffer = encoded.withUnsafeBytes { AlignedBuffer(copying: $0) }
        return try VocabularyView(buffer: buffer, file: "test")
    }

    /// The real vocabulary as the converter writes it, with the `PTRI` piece trie block
    /// (`withTrie: false`: without it, so the tokenizer builds the trie at load).
    static func realContents(withTrie: Bool = true) throws -> VocabularyContents {
        var contents = try realContentsResult.get()
        if !withTrie { contents.extraBlocks = [] }
        return contents
    }

    private static let realContentsResult = Result { try parseRealContents() }

    private static func parseRealContents() throws -> VocabularyContents {
        let bytes = try fixtureBytes(spmPath)
        let spm = try SentencePieceModel.parse(bytes, file: spmPath)
        let pieces = spm.pieces.map(\.bytes)
        return VocabularyContents(pieces: pieces, scores: spm.pieces.map(\.score),
                                  types: spm.pieces.map { PieceType(rawValue: $0.type.rawValue) ?? .normal },
                                  charsmap: spm.precompiledCharsmap, addedTokens: pairRMAddedTokens,
                                  extraBlocks: [VocabularyBlock(tag: PieceTrie.tag, bytes: PieceTrie.block(pieces: pieces))])
    }

    private static let realResult: Result<Tokenizer, Error> = Result { try Tokenizer(vocabulary: view(of: realContents())) }

    /// The real tokenizer.
    static func real() throws -> Tokenizer {
        try realResult.get()
    }

    struct Case: Decodable {
        var id: String
        var category: String
        var text: String
        var ids: [Int32]
        var ids_hf: [Int32]?
        var ids_hf_slow: [Int32]?
        var ids_spm_legacy: [Int32]?
        var hfExpected: [Int32] { ids_hf ?? ids }
    }

    static func cases(_ path: String = casesPath) throws -> [Case] {
        let text = String(decoding: try fixtureBytes(path), as: UTF8.self)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Case.self, from: Data($0.utf8)) }
    }

    static func firstDifference(_ a: [Int32], _ b: [Int32]) -> Int {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    }
}
