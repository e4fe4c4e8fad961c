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
/// * `slots`: open addressing, one slot per piece (fingerprint + id); a hit is reported only
///   after the piece's bytes are compared with the input, so collisions cannot mis-tokenize.
/// The bitsets are small (1 MB + 256 kB for DeBERTa-v3) and stay cache-resident, which keeps
/// load at one pass over the 1.07 M piece bytes and no per-piece allocation.
struct PieceMatcher: @unchecked Sendable {
    /// High 32 bits fingerprint (never 0), low 32 bits piece id + 1. 0 = empty slot.
    private let slots: [UInt64]
    private let slotMask: Int
    private let prefixBits: [UInt64]
    private let prefixMask: Int
    private let pieceBits: [UInt64]
    private let pieceMask: Int
    private let pieceOffsets: UnsafeBufferPointer<UInt32>
    private let pieceBytes: UnsafeBufferPointer<UInt8>
    /// Length in bytes of the longest piece; no walk goes further.
    let maxPieceLength: Int

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
    @inline(__always) private static func test(_ bits: UnsafeBufferPointer<UInt64>, _ i: Int) -> Bool {
        bits[i >> 6] & (1 << UInt64(i & 63)) != 0
    }
    @inline(__always) private static func set(_ bits: UnsafeMutableBufferPointer<UInt64>, _ i: Int) {
        bits[i >> 6] |= 1 << UInt64(i & 63)
    }
    private static func powerOfTwo(atLeast n: Int) -> Int {
        var c = 64
        while c < n { c <<= 1 }
        return c
    }

    /// Indexes every non-empty piece of `vocabulary` (callers filter by type at match time).
    init(vocabulary: VocabularyView) {
        pieceOffsets = vocabulary.pieceOffsets
        pieceBytes = vocabulary.pieceBytes.bindMemory(to: UInt8.self)
        let count = vocabulary.pieceCount
        let offsets = pieceOffsets, bytes = pieceBytes
        var longest = 0
        for id in 0..<count { longest = max(longest, Int(offsets[id + 1] - offsets[id])) }
        maxPieceLength = longest
        // ~8 bits per piece byte for prefixes (≈3% false "continue" for DeBERTa-v3), ~16 per piece.
        let prefixBitCount = Self.powerOfTwo(atLeast: bytes.count * 8)
        let pieceBitCount = Self.powerOfTwo(atLeast: count * 16)
        let slotCount = Self.powerOfTwo(atLeast: count * 2)
        prefixMask = prefixBitCount - 1
        pieceMask = pieceBitCount - 1
        slotMask = slotCount - 1
        var prefix = [UInt64](repeating: 0, count: prefixBitCount / 64)
        var piece = [UInt64](repeating: 0, count: pieceBitCount / 64)
        var table = [UInt64](repeating: 0, count: slotCount)
        let prefixMask = self.prefixMask, pieceMask = self.pieceMask, slotMask = self.slotMask
        prefix.withUnsafeMutableBufferPointer { prefixBits in
        piece.withUnsafeMutableBufferPointer { pieceBits in
        table.withUnsafeMutableBufferPointer { slots in
            for id in 0..<count {
                let start = Int(offsets[id]), end = Int(offsets[id + 1])
                guard end > start else { continue }
                var h = Self.fnvOffset
                var m: UInt64 = 0
                for k in start..<end {
                    h = Self.step(h, bytes[k])
                    m = Self.mix(h)
                    Self.set(prefixBits, Int(truncatingIfNeeded: m) & prefixMask)
                }
                Self.set(pieceBits, Int(truncatingIfNeeded: m >> 20) & pieceMask)
                let fp = (m >> 32) | 1
                var i = Int(truncatingIfNeeded: m) & slotMask
                while true {
                    let s = slots[i]
                    if s == 0 { slots[i] = fp << 32 | UInt64(id + 1); break }
                    // A duplicate piece keeps its first id; a fingerprint collision probes on.
                    if s >> 32 == fp, Self.equal(offsets, bytes, Int(s & 0xFFFF_FFFF) - 1, bytes, start, end - start) { break }
                    i = (i + 1) & slotMask
                }
            }
        }}}
        prefixBits = prefix
        pieceBits = piece
        slots = table
    }

    @inline(__always)
    private static func equal(_ offsets: UnsafeBufferPointer<UInt32>, _ bytes: UnsafeBufferPointer<UInt8>, _ id: Int,
                              _ text: UnsafeBufferPointer<UInt8>, _ from: Int, _ length: Int) -> Bool {
        let s = Int(offsets[id])
        guard Int(offsets[id + 1]) - s == length else { return false }
        var k = 0
        while k < length {
            if bytes[s + k] != text[from + k] { return false }
            k += 1
        }
        return true
    }

    /// Calls `body(id, length)` for each piece that is a prefix of `text[from..<limit]`, shortest first.
    @inline(__always)
    func forEachPrefix(_ text: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, _ body: (Int, Int) -> Void) {
        let end = min(limit, from + maxPieceLength)
        var h = Self.fnvOffset
        var k = from
        prefixBits.withUnsafeBufferPointer { prefixBits in
        pieceBits.withUnsafeBufferPointer { pieceBits in
        slots.withUnsafeBufferPointer { slots in
            while k < end {
                h = Self.step(h, text[k])
                let m = Self.mix(h)
                if !Self.test(prefixBits, Int(truncatingIfNeeded: m) & prefixMask) { return }
                if Self.test(pieceBits, Int(truncatingIfNeeded: m >> 20) & pieceMask) {
                    let fp = (m >> 32) | 1
                    var i = Int(truncatingIfNeeded: m) & slotMask
                    while true {
                        let s = slots[i]
                        if s == 0 { break }
                        if s >> 32 == fp, Self.equal(pieceOffsets, pieceBytes, Int(s & 0xFFFF_FFFF) - 1, text, from, k + 1 - from) {
                            body(Int(s & 0xFFFF_FFFF) - 1, k + 1 - from)
                            break
                        }
                        i = (i + 1) & slotMask
                    }
                }
                k += 1
            }
        }}}
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
