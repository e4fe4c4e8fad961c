import Foundation
import PairRMFormat
import PairRMTokenizer

/// The added-token table and tokenizer flags from the hub's tokenizer files
/// (`tokenizer_config.json`, `added_tokens.json`, `special_tokens_map.json`), resolved into the
/// list the Hugging Face fast tokenizer ends up with (Formats/tokenizer.md §6.1).
public struct TokenizerFiles: Sendable {
    public var addedTokens: [AddedToken]
    public var doLowerCase: Bool
    public var splitByPunct: Bool
    /// The files actually read, for provenance.
    public var filesRead: [String]

    static let prefixStrings = ["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"]

    /// - Parameter pieces: the spm.model pieces (control pieces become special added tokens).
    public static func load(directory: String, spm: SentencePieceModel) throws -> TokenizerFiles {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        var filesRead: [String] = []
        var byID: [Int: AddedToken] = [:]
        let pieceCount = spm.pieces.count

        // spm control pieces and the unknown piece, as SpmConverter + DebertaV2Tokenizer register them.
        for (id, piece) in spm.pieces.enumerated() {
            let content = String(decoding: piece.bytes, as: UTF8.self)
            switch piece.type {
            case .control: byID[id] = AddedToken(id: id, content: content, special: true, normalized: false)
            case .unknown: byID[id] = AddedToken(id: id, content: content, special: true, normalized: true)
            default: break
            }
        }

        var doLowerCase = false, splitByPunct = false
        var specialContents = Set<String>()
        let mapPath = path("special_tokens_map.json")
        if FileManager.default.fileExists(atPath: mapPath) {
            filesRead.append("special_tokens_map.json")
            for (_, value) in try JSONFile.object(at: mapPath) {
                if let text = value as? String { specialContents.insert(text) }
                if let object = value as? [String: Any], let text = object["content"] as? String { specialContents.insert(text) }
            }
        }

        let configPath = path("tokenizer_config.json")
        var decoder: [String: Any]? = nil
        if FileManager.default.fileExists(atPath: configPath) {
            filesRead.append("tokenizer_config.json")
            let config = try JSONFile.object(at: configPath)
            doLowerCase = config["do_lower_case"] as? Bool ?? false
            splitByPunct = config["split_by_punct"] as? Bool ?? false
            decoder = config["added_tokens_decoder"] as? [String: Any]
        }

        let addedPath = path("added_tokens.json")
        if FileManager.default.fileExists(atPath: addedPath) {
            filesRead.append("added_tokens.json")
            for (content, value) in try JSONFile.object(at: addedPath) {
                guard let id = try JSONFile.int(["id": value], "id", file: addedPath), id >= 0 else {
                    throw ConversionError(.malformedTokenizerFile, file: addedPath, field: content,
                                          problem: "the id \(value) is not a non-negative integer", fix: "download the file again")
                }
                // add_tokens() with plain strings: normalized unless special (Formats/tokenizer.md §6.1).
                let special = specialContents.contains(content)
                byID[id] = AddedToken(id: id, content: content, special: special, normalized: !special)
            }
        }

        // added_tokens_decoder carries the exact flags; it wins where present.
        for (key, value) in decoder ?? [:] {
            guard let id = Int(key), id >= 0, let entry = value as? [String: Any], let content = entry["content"] as? String else {
                throw ConversionError(.malformedTokenizerFile, file: configPath, field: "added_tokens_decoder.\(key)",
                                      problem: "is not {\"content\": ..., flags} under a numeric id", fix: "download the file again")
            }
            byID[id] = AddedToken(id: id, content: content, special: entry["special"] as? Bool ?? false,
                                  normalized: entry["normalized"] as? Bool ?? !(entry["special"] as? Bool ?? false),
                                  lstrip: entry["lstrip"] as? Bool ?? false, rstrip: entry["rstrip"] as? Bool ?? false,
                                  singleWord: entry["single_word"] as? Bool ?? false)
        }

        // Ids past the spm pieces must be dense and in order, as the embedding rows are.
        let extra = byID.keys.filter { $0 >= pieceCount }.sorted()
        for (offset, id) in extra.enumerated() where id != pieceCount + offset {
            throw ConversionError(.malformedTokenizerFile, file: addedPath, field: byID[id]!.content,
                                  problem: "added token id \(id) leaves a gap after the \(pieceCount) spm pieces",
                                  fix: "the tokenizer files do not belong to this spm.model; download them together")
        }
        return TokenizerFiles(addedTokens: byID.keys.sorted().map { byID[$0]! }, doLowerCase: doLowerCase,
                              splitByPunct: splitByPunct, filesRead: filesRead)
    }

    public func id(of content: String) -> Int? { addedTokens.first { $0.content == content }?.id }

    /// The vocabulary section contents: spm pieces + this added-token table, plus the piece trie
    /// (`PTRI`, built once here so the tokenizer loads it in place).
    public func vocabulary(from spm: SentencePieceModel) -> VocabularyContents {
        let pieces = spm.pieces.map(\.bytes)
        return VocabularyContents(pieces: pieces, scores: spm.pieces.map(\.score),
                                  types: spm.pieces.map { PieceType(rawValue: $0.type.rawValue) ?? .normal },
                                  charsmap: spm.precompiledCharsmap, addedTokens: addedTokens,
                                  extraBlocks: [VocabularyBlock(tag: PieceTrie.tag, bytes: PieceTrie.block(pieces: pieces))])
    }
}
