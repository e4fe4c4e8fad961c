/// SentencePiece piece kinds, with the numbers spm.model uses.
public enum PieceType: UInt8, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// A token added on top of the SentencePiece pieces ([MASK], the PairRM prefix tokens...) or a
/// piece re-declared as an added token ([PAD], [CLS], ...), with the Hugging Face flags that decide
/// how text is split around it.
public struct AddedToken: Equatable, Sendable {
    public var id: Int
    public var content: String
    public var special: Bool
    public var normalized: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var singleWord: Bool

    public init(id: Int, content: String, special: Bool, normalized: Bool,
                lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
    }

    var flags: UInt8 {
        (special ? 1 : 0) | (normalized ? 2 : 0) | (lstrip ? 4 : 0) | (rstrip ? 8 : 0) | (singleWord ? 16 : 0)
    }
}

/// An optional VOCABULARY block written after the required ones (e.g. the tokenizer's `PTRI`
/// piece trie, Formats/prm-v1.md §7). Readers skip tags they do not know.
public struct VocabularyBlock: Equatable, Sendable {
    /// Four ASCII characters, not one of the required tags.
    public var tag: String
    public var bytes: [UInt8]

    public init(tag: String, bytes: [UInt8]) {
        self.tag = tag
        self.bytes = bytes
    }
}

/// Everything the tokenizer needs, as the converter hands it to the writer.
public struct VocabularyContents: Equatable, Sendable {
    public var pieces: [[UInt8]]
    public var scores: [Float]
    public var types: [PieceType]
    public var charsmap: [UInt8]
    public var addedTokens: [AddedToken]
    /// Optional derived blocks, written after the required ones in this order.
    public var extraBlocks: [VocabularyBlock]

    public static let requiredTags = ["POFS", "PBYT", "PSCO", "PTYP", "CMAP", "ADDT"]

    public init(pieces: [[UInt8]], scores: [Float], types: [PieceType], charsmap: [UInt8], addedTokens: [AddedToken],
                extraBlocks: [VocabularyBlock] = []) {
        self.pieces = pieces
        self.scores = scores
        self.types = types
        self.charsmap = charsmap
        self.addedTokens = addedTokens
        self.extraBlocks = extraBlocks
    }

    /// The decoded VOCABULARY section (Formats/prm-v1.md §7).
    public func encoded() -> [UInt8] {
        precondition(pieces.count == scores.count && pieces.count == types.count)
        precondition(extraBlocks.allSatisfy { $0.tag.utf8.count == 4 && !Self.requiredTags.contains($0.tag) }
                     && Set(extraBlocks.map(\.tag)).count == extraBlocks.count
                     && Self.requiredTags.count + extraBlocks.count <= VocabularyView.maxBlocks, "extra block tags must be 4 bytes, distinct and not required tags")
        var offsets = ByteWriter()
        var pieceBytes: [UInt8] = []
        offsets.u32(0)
        for piece in pieces {
            pieceBytes.append(contentsOf: piece)
            offsets.u32(UInt32(pieceBytes.count))
        }
        var scoreBytes = ByteWriter()
        for score in scores { scoreBytes.f32(score) }
        var added = ByteWriter()
        added.u32(UInt32(addedTokens.count))
        for token in addedTokens {
            let content = Array(token.content.utf8)
            added.u32(UInt32(token.id))
            added.u8(token.flags)
            added.zeros(3)
            added.u32(UInt32(content.count))
            added.append(content)
            added.pad(to: 4)
        }
        let blocks: [(String, [UInt8])] = [
            ("POFS", offsets.bytes), ("PBYT", pieceBytes), ("PSCO", scoreBytes.bytes),
            ("PTYP", types.map(\.rawValue)), ("CMAP", charsmap), ("ADDT", added.bytes),
        ] + extraBlocks.map { ($0.tag, $0.bytes) }
        var writer = ByteWriter()
        writer.append(Array("VOC1".utf8))
        writer.u32(UInt32(blocks.count))
        var offset = alignUp(8 + 24 * blocks.count, 8)!
        for (tag, payload) in blocks {
            writer.append(Array(tag.utf8))
            writer.u32(0)
            writer.u64(UInt64(offset))
            writer.u64(UInt64(payload.count))
            offset = alignUp(offset + payload.count, 8)!
        }
        for (_, payload) in blocks {
            writer.pad(to: 8)
            writer.append(payload)
        }
        return writer.bytes
    }
}

/// The vocabulary as the tokenizer reads it: views into the decoded section, no copies.
/// Valid as long as the view (which retains its buffer) is alive.
public struct VocabularyView: @unchecked Sendable {
    public let pieceCount: Int
    public let pieceOffsets: UnsafeBufferPointer<UInt32>
    public let pieceBytes: UnsafeRawBufferPointer
    public let scores: UnsafeBufferPointer<Float>
    public let types: UnsafeBufferPointer<UInt8>
    public let charsmap: UnsafeRawBufferPointer
    public let addedTokens: [AddedToken]
    /// Every block by tag, including ones this version does not interpret.
    public let blocks: [String: UnsafeRawBufferPointer]
    let owner: AlignedBuffer

    public static let maxBlocks = 32

    /// The UTF-8 bytes of piece `id`.
    public func piece(_ id: Int) -> UnsafeRawBufferPointer {
        let start = Int(pieceOffsets[id]), end = Int(pieceOffsets[id + 1])
        return UnsafeRawBufferPointer(rebasing: pieceBytes[start..<end])
    }

    public func type(_ id: Int) -> PieceType? { PieceType(rawValue: types[id]) }

    /// Decodes and validates a decoded VOCABULARY section held by `buffer` (64-aligned).
    public init(buffer: AlignedBuffer, file: String) throws {
        owner = buffer
        let bytes = buffer.bytes
        var reader = ByteReader(bytes, file: file, context: "VOCABULARY")
        let magic = try reader.bytes(4, "magic")
        guard Array(magic) == Array("VOC1".utf8) else {
            throw reader.fail(.malformed, "magic", "does not start with \"VOC1\"")
        }
        let blockCount = Int(try reader.u32("block_count"))
        guard blockCount <= VocabularyView.maxBlocks else {
            throw reader.fail(.outOfRange, "block_count", "\(blockCount) exceeds \(VocabularyView.maxBlocks)")
        }
        var blocks: [String: UnsafeRawBufferPointer] = [:]
        for index in 0..<blockCount {
            let tagBytes = try reader.bytes(4, "blocks[\(index)].tag")
            let tag = String(decoding: tagBytes, as: UTF8.self)
            _ = try reader.u32("\(tag).reserved")
            let offset = try reader.count("\(tag).offset", limit: UInt64(bytes.count))
            let size = try reader.count("\(tag).size", limit: UInt64(bytes.count))
            guard offset % 8 == 0, size <= bytes.count - offset else {
                throw reader.fail(.outOfRange, "\(tag).offset", "block \(offset)+\(size) is misaligned or past the \(bytes.count)-byte section")
            }
            guard blocks[tag] == nil else { throw reader.fail(.malformed, "\(tag)", "block appears twice") }
            blocks[tag] = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
        }
        func block(_ tag: String) throws -> UnsafeRawBufferPointer {
            guard let found = blocks[tag] else { throw reader.fail(.missing, tag, "required block is missing") }
            return found
        }
        let offsetsRaw = try block("POFS"), piecesRaw = try block("PBYT"), scoresRaw = try block("PSCO")
        let typesRaw = try block("PTYP"), charsmapRaw = try block("CMAP"), addedRaw = try block("ADDT")
        guard offsetsRaw.count % 4 == 0, offsetsRaw.count >= 4 else {
            throw reader.fail(.malformed, "POFS.size", "\(offsetsRaw.count) is not (piece_count + 1) × 4")
        }
        let count = offsetsRaw.count / 4 - 1
        guard scoresRaw.count == 4 * count, typesRaw.count == count else {
            throw reader.fail(.malformed, "PSCO.size", "POFS says \(count) pieces, PSCO holds \(scoresRaw.count / 4), PTYP \(typesRaw.count)")
        }
        // Blocks are 8-aligned inside a 64-aligned buffer, so typed views are aligned.
        let offsets = offsetsRaw.bindMemory(to: UInt32.self)
        var previous: UInt32 = 0
        for (index, offset) in offsets.enumerated() {
            guard offset >= previous, Int(offset) <= piecesRaw.count, index > 0 || offset == 0 else {
                throw reader.fail(.malformed, "POFS[\(index)]", "offset \(offset) is decreasing or past the \(piecesRaw.count)-byte PBYT")
            }
            previous = offset
        }
        guard Int(previous) == piecesRaw.count else {
            throw reader.fail(.malformed, "POFS[\(count)]", "last offset \(previous) ≠ PBYT size \(piecesRaw.count)")
        }
        let types = typesRaw.bindMemory(to: UInt8.self)
        for (index, type) in types.enumerated() where PieceType(rawValue: type) == nil {
            throw reader.fail(.malformed, "PTYP[\(index)]", "piece type \(type) is not a SentencePiece type (1…6)")
        }
        var addedReader = ByteReader(addedRaw, file: file, context: "VOCABULARY.ADDT")
        let addedCount = Int(try addedReader.u32("count"))
        guard addedCount <= addedRaw.count / 12 else {
            throw addedReader.fail(.outOfRange, "count", "\(addedCount) tokens cannot fit in \(addedRaw.count) bytes")
        }
        var added: [AddedToken] = []
        for index in 0..<addedCount {
            let id = Int(try addedReader.u32("[\(index)].id"))
            let flags = try addedReader.u8("[\(index)].flags")
            try addedReader.skip(3, "[\(index)].reserved")
            let length = Int(try addedReader.u32("[\(index)].content_length"))
            let content = try addedReader.utf8(length, "[\(index)].content")
            try addedReader.align(to: 4, "[\(index)].padding")
            added.append(AddedToken(id: id, content: content, special: flags & 1 != 0, normalized: flags & 2 != 0,
                                    lstrip: flags & 4 != 0, rstrip: flags & 8 != 0, singleWord: flags & 16 != 0))
        }
        pieceCount = count
        pieceOffsets = offsets
        pieceBytes = piecesRaw
        scores = scoresRaw.bindMemory(to: Float.self)
        self.types = types
        charsmap = charsmapRaw
        addedTokens = added
        self.blocks = blocks
    }
}
