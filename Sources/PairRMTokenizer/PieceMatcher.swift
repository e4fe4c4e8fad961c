import PairRMFormat

/// Finds, for a byte position, every vocabulary piece that is a prefix of the remaining bytes,
/// shortest first (the order the Viterbi's tie rule depends on).
///
/// Structure, all keyed by an incremental FNV-1a hash of a byte prefix (one multiply per byte):
/// * `prefixBits`: a bit per hash bucket, set for every prefix of every piece. A clear bit proves
///   no piece continues, so a walk stops early; a set bit may be a collision, which only costs
///   one more step (never a wrong answer).
/// * `pieceBits`: a bit per bucket, set where some piece ends — the piece table is only probed
///   there.
/// * `slots`: open addressing (load ≤ 2/3), one 32-byte slot per piece: a header word
///   (fingerprint, length, id) and the piece's first 24 bytes zero-padded, so a hit is verified
///   byte for byte within the same cache line with two or three word compares (longer pieces are
///   compared in the vocabulary itself); collisions cannot mis-tokenize.
/// Building is one pass over the 1.07 M piece bytes with no per-piece allocation.
struct PieceMatcher: @unchecked Sendable {
    /// Owns the tables (freed with the last copy of the matcher).
    private final class Storage: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
        init(byteCount: Int) {
            raw = .allocate(byteCount: byteCount, alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        }
        deinit { raw.deallocate() }
    }
    private let storage: Storage
    /// High 32 bits fingerprint (never 0), bits 24–31 piece length (0 = longer than 255),
    /// low 24 bits piece id + 1. 0 = empty slot.
    private let slots: UnsafeMutablePointer<UInt64>
    private let slotCount: Int
    private let prefixBits: UnsafeMutablePointer<UInt64>
    private let prefixMask: Int
    private let pieceBits: UnsafeMutablePointer<UInt64>
    private let pieceMask: Int
    private let pieceOffsets: UnsafeBufferPointer<UInt32>
    private let pieceBytes: UnsafeBufferPointer<UInt8>
    /// Length in bytes of the longest piece; no walk goes further.
    let maxPieceLength: Int

    /// Bytes of a piece stored in its slot (after the 8-byte header); longer pieces are compared
    /// in the vocabulary.
    static let inlineBytes = 24
    /// Piece ids must fit the slot's 24-bit id field.
    static let maxPieceCount = (1 << 24) - 2

    private static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always) private static func step(_ h: UInt64, _ byte: UInt8) -> UInt64 {
        (h ^ UInt64(byte)) &* fnvPrime
    }
    /// FNV's low bits are weak; mix before taking bucket indexes and the fingerprint.
    @inline(__always) private static func mix(_ h: UInt64) -> UInt64 {
        var x = h ^ (h >> 31)
        x = x &* 0x7fb5_d329_728e_a185
        return x ^ (x >> 27)
    }
    @inline(__always) private static func test(_ bits: UnsafeMutablePointer<UInt64>, _ i: Int) -> Bool {
        bits[i >> 6] & (1 << UInt64(i & 63)) != 0
    }
    @inline(__always) private static func set(_ bits: UnsafeMutablePointer<UInt64>, _ i: Int) {
        bits[i >> 6] |= 1 << UInt64(i & 63)
    }
    /// Low 32 hash bits scaled to `0..<count`.
    @inline(__always) private static func slotIndex(_ m: UInt64, _ count: Int) -> Int {
        Int(truncatingIfNeeded: ((m & 0xFFFF_FFFF) &* UInt64(truncatingIfNeeded: count)) >> 32)
    }
    private static func powerOfTwo(atLeast n: Int) -> Int {
        var c = 64
        while c < n { c <<= 1 }
        return c
    }

    /// Indexes every non-empty piece of `vocabulary` (callers filter by type at match time).
    init(vocabulary: VocabularyView) throws {
        let count = vocabulary.pieceCount
        guard count <= Self.maxPieceCount else {
            throw TokenizerError(.unsupported, field: "POFS", problem: "\(count) pieces exceed the tokenizer's limit of \(Self.maxPieceCount)",
                                 fix: "use a vocabulary of fewer pieces")
        }
        pieceOffsets = vocabulary.pieceOffsets
        pieceBytes = vocabulary.pieceBytes.bindMemory(to: UInt8.self)
        let offsets = pieceOffsets, bytes = pieceBytes
        var longest = 0
        for id in 0..<count { longest = max(longest, Int(offsets[id + 1] &- offsets[id])) }
        maxPieceLength = longest
        // ~16 bits per piece byte for prefixes (≈2% false "continue" for DeBERTa-v3), ~16 per piece.
        let prefixBitCount = Self.powerOfTwo(atLeast: bytes.count * 8)
        let pieceBitCount = Self.powerOfTwo(atLeast: count * 16)
        let slotCount = max(count + count / 2, 64)   // load ≤ 2/3; any size (index by multiply-shift)
        prefixMask = prefixBitCount - 1
        pieceMask = pieceBitCount - 1
        self.slotCount = slotCount
        let prefixWords = prefixBitCount / 64, pieceWords = pieceBitCount / 64
        // Slots (32 bytes each, 64-byte aligned), then the bitsets.
        storage = Storage(byteCount: 8 * (4 * slotCount + prefixWords + pieceWords))
        let words = storage.raw.bindMemory(to: UInt64.self, capacity: 4 * slotCount + prefixWords + pieceWords)
        slots = words
        prefixBits = slots + 4 * slotCount
        pieceBits = prefixBits + prefixWords
        let prefixMask = self.prefixMask, pieceMask = self.pieceMask
        let prefixBits = self.prefixBits, pieceBits = self.pieceBits, slots = self.slots
        let slotBytes = storage.raw
        guard let pieceBase = bytes.baseAddress else { return }
        for id in 0..<count {
            let start = Int(offsets[id]), end = Int(offsets[id + 1])
            guard end > start else { continue }
            let length = end - start
            var h = Self.fnvOffset
            var m: UInt64 = 0
            for k in start..<end {
                h = Self.step(h, pieceBase[k])
                m = Self.mix(h)
                Self.set(prefixBits, Int(truncatingIfNeeded: m) & prefixMask)
            }
            Self.set(pieceBits, Int(truncatingIfNeeded: m >> 20) & pieceMask)
            let fp = (m >> 32) | 1
            let entry = fp << 32 | UInt64(length <= 255 ? length : 0) << 24 | UInt64(id + 1)
            var i = Self.slotIndex(m, slotCount)
            while true {
                let s = slots[4 * i]
                if s == 0 {
                    slots[4 * i] = entry
                    (slotBytes + 32 * i + 8).copyMemory(from: pieceBase + start, byteCount: min(length, Self.inlineBytes))
                    break
                }
                // A duplicate piece keeps its first id; a fingerprint collision probes on.
                if s >> 24 == entry >> 24, Self.equalSlow(offsets, pieceBase, Int(s & 0xFF_FFFF) - 1, pieceBase + start, length) { break }
                i += 1
                if i == slotCount { i = 0 }
            }
        }
    }

    @inline(__always)
    private static func equalSlow(_ offsets: UnsafeBufferPointer<UInt32>, _ bytes: UnsafePointer<UInt8>, _ id: Int,
                                  _ text: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        let s = Int(offsets[id])
        guard Int(offsets[id &+ 1]) &- s == length else { return false }
        let piece = bytes + s
        var k = 0
        while k < length {
            if piece[k] != text[k] { return false }
            k &+= 1
        }
        return true
    }

    /// Whether the piece in slot `slot` (`id`, known to be `length` bytes long) equals
    /// `text[0..<length]`; `head` is `text[0..<min(length, 8)]` as a little-endian word with zero
    /// high bytes.
    @inline(__always)
    private func equal(slot: Int, id: Int, _ text: UnsafePointer<UInt8>, _ length: Int, head: UInt64) -> Bool {
        let record = slots + (slot &* 4 &+ 1)
        guard UInt64(littleEndian: record[0]) == head else { return false }
        if length <= 8 { return true }
        if length > Self.inlineBytes {
            return Self.equalSlow(pieceOffsets, pieceBytes.baseAddress.unsafelyUnwrapped, id, text, length)
        }
        let raw = UnsafeRawPointer(record)
        let source = UnsafeRawPointer(text)
        if length > 16 {
            if source.loadUnaligned(fromByteOffset: 8, as: UInt64.self) != raw.load(fromByteOffset: 8, as: UInt64.self) { return false }
        }
        // The last 8 bytes, overlapping the words already compared (length > 8: in bounds).
        let tail = length &- 8
        return source.loadUnaligned(fromByteOffset: tail, as: UInt64.self) == raw.loadUnaligned(fromByteOffset: tail, as: UInt64.self)
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
        let end = min(count, maxPieceLength)
        var h = Self.fnvOffset
        var head: UInt64 = 0
        var k = 0
        while k < end {
            let byte = text[k]
            if k < 8 { head |= UInt64(byte) &<< UInt64(k &* 8) }
            h = Self.step(h, byte)
            let m = Self.mix(h)
            if !Self.test(prefixBits, Int(truncatingIfNeeded: m) & prefixMask) { return }
            if Self.test(pieceBits, Int(truncatingIfNeeded: m >> 20) & pieceMask) {
                let length = k &+ 1
                let key = ((m >> 32) | 1) << 8 | UInt64(length <= 255 ? length : 0)
                var i = Self.slotIndex(m, slotCount)
                while true {
                    let s = slots[i &* 4]
                    if s == 0 { break }
                    if s >> 24 == key {
                        let id = Int(s & 0xFF_FFFF) &- 1
                        if equal(slot: i, id: id, text, length, head: head) {
                            body(id, length)
                            break
                        }
                    }
                    i &+= 1
                    if i == slotCount { i = 0 }
                }
            }
            k &+= 1
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
