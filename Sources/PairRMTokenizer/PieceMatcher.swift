import PairRMFormat

/// Finds, for a byte position, every vocabulary piece that is a prefix of the remaining bytes,
/// shortest first (the order the Viterbi's tie rule depends on), by walking the piece trie:
/// one 8-byte load per byte, near the root always cached.
struct PieceMatcher: @unchecked Sendable {
    private let units: UnsafePointer<UInt64>
    private let rootBase: Int
    /// Keeps units built at load alive (nil when they live in the vocabulary's buffer, which
    /// the tokenizer's `VocabularyView` retains).
    private let storage: Storage?
    /// Whether the units came from the file's PTRI block (false: built at load).
    let isStored: Bool

    private final class Storage: @unchecked Sendable {
        let units: UnsafeMutableBufferPointer<UInt64>
        init(_ array: [UInt64]) {
            units = .allocate(capacity: array.count)
            _ = units.initialize(from: array)
        }
        deinit { units.deallocate() }
    }

    /// Uses the vocabulary's validated PTRI block, or builds the trie when there is none.
    init(vocabulary: VocabularyView) throws {
        let count = vocabulary.pieceCount
        guard count <= PieceTrie.maxPieceCount else {
            throw TokenizerError(.unsupported, field: "POFS", problem: "\(count) pieces exceed the tokenizer's limit of \(PieceTrie.maxPieceCount)",
                                 fix: "use a vocabulary of fewer pieces")
        }
        if let block = vocabulary.blocks[PieceTrie.tag] {
            let units = try PieceTrie.validate(block, vocabulary: vocabulary)
            self.units = units.baseAddress!
            storage = nil
            isStored = true
        } else {
            let built = PieceTrie.build(offsets: vocabulary.pieceOffsets, bytes: vocabulary.pieceBytes.bindMemory(to: UInt8.self))
            guard built.count <= PieceTrie.maxUnits else {
                throw TokenizerError(.unsupported, field: "POFS", problem: "the piece trie needs \(built.count) units, over the limit of \(PieceTrie.maxUnits)",
                                     fix: "use a smaller vocabulary")
            }
            let storage = Storage(built)
            self.storage = storage
            units = UnsafePointer(storage.units.baseAddress!)
            isStored = false
        }
        rootBase = Int((UInt64(littleEndian: units[0]) >> PieceTrie.baseShift) & PieceTrie.baseMask)
    }

    /// Calls `body(id, length)` for each piece that is a prefix of `text[from..<limit]`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, _ body: (Int, Int) -> Void) {
        guard limit > from, let base = text.baseAddress else { return }
        forEachPrefix(base + from, count: limit - from, body)
    }

    /// Calls `body(id, length)` for each piece that is a prefix of `text[0..<count]`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: UnsafePointer<UInt8>, count: Int, _ body: (Int, Int) -> Void) {
        var base = rootBase
        var k = 0
        while k < count {
            let c = text[k]
            let unit = UInt64(littleEndian: units[base ^ Int(c)])
            if UInt32(truncatingIfNeeded: unit) & 0x1FF != 0x100 | UInt32(c) { return }
            k &+= 1
            let idPlusOne = Int(truncatingIfNeeded: unit >> 32)
            if idPlusOne != 0 { body(idPlusOne &- 1, k) }
            base = Int(truncatingIfNeeded: (unit >> PieceTrie.baseShift) & PieceTrie.baseMask)
        }
    }

    /// The id of the piece whose bytes are exactly `text`, if any.
    func id(of text: UnsafeBufferPointer<UInt8>) -> Int? {
        var found: Int?
        forEachPrefix(text, from: 0, limit: text.count) { id, length in
            if length == text.count { found = id }
        }
        return found
    }
}
