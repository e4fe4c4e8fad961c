import PairRMFormat

/// The piece trie: every non-empty vocabulary piece in a double array over bytes (darts-clone
/// style XOR transitions), one 8-byte unit per trie node carrying the piece id that ends there.
/// The converter builds it once and stores it as the VOCABULARY block `PTRI`
/// (Formats/prm-v1.md §7); the tokenizer validates it and walks it in place. Files without the
/// block get it built at load (`PieceTrie.build`).
///
/// Unit (little-endian u64):
/// * bits 0–7: the label (the byte leading into this node);
/// * bit 8: in use (a free unit is all zero, so a label test `unit & 0x1FF == 0x100 | byte` both
///   checks the transition and rejects free units);
/// * bits 9–31: `base`: the child on byte `c` is unit `base ^ c`; 0 = no children (block 0 holds
///   only the root, whose in-use bit is clear, so every transition out of base 0 fails);
/// * bits 32–63: piece id + 1, 0 = no piece ends here.
///
/// Every non-zero base is used by exactly one node, so a matching label proves the unit is the
/// child of the node walked from (darts-clone's invariant), without a parent field.
public enum PieceTrie {
    /// The VOCABULARY block tag.
    public static let tag = "PTRI"
    static let headerSize = 24
    static let blockUnits = 256
    /// Base fits 23 bits.
    public static let maxUnits = 1 << 23
    /// Piece id + 1 fits the unit's high u32; ids are also emitted as Int32.
    public static let maxPieceCount = Int(Int32.max) - 1

    static let usedBit: UInt64 = 0x100
    static let baseShift: UInt64 = 9
    static let baseMask: UInt64 = 0x7F_FFFF

    // MARK: - Building

    /// The `PTRI` block for `pieces` (the VOCABULARY's piece list, in id order).
    public static func block(pieces: [[UInt8]]) -> [UInt8] {
        var offsets: [UInt32] = [0]
        offsets.reserveCapacity(pieces.count + 1)
        var bytes: [UInt8] = []
        for piece in pieces {
            bytes.append(contentsOf: piece)
            offsets.append(UInt32(bytes.count))
        }
        return offsets.withUnsafeBufferPointer { o in
            bytes.withUnsafeBufferPointer { b in
                let units = build(offsets: o, bytes: b)
                precondition(units.count <= maxUnits && pieces.count <= maxPieceCount,
                             "\(pieces.count) pieces need \(units.count) trie units; the PTRI limits are \(maxPieceCount) pieces and \(maxUnits) units")
                var out = [UInt8]()
                out.reserveCapacity(headerSize + 8 * units.count)
                func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
                func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
                u32(UInt32(units.count))
                u32(UInt32(pieces.count))
                u32(UInt32(units.reduce(0) { $0 + ($1 >> 32 != 0 ? 1 : 0) }))
                u32(0)
                u64(fingerprint(offsets: UnsafeRawBufferPointer(o), bytes: UnsafeRawBufferPointer(b)))
                for unit in units { u64(unit) }
                return out
            }
        }
    }

    /// XXH64 of the POFS bytes followed by the PBYT bytes: ties a trie to the piece table it
    /// was built from.
    static func fingerprint(offsets: UnsafeRawBufferPointer, bytes: UnsafeRawBufferPointer) -> UInt64 {
        var stream = XXH64Stream()
        stream.update(offsets)
        stream.update(bytes)
        return stream.digest
    }

    /// The units of the trie of pieces `bytes[offsets[i]..<offsets[i+1]]` (empty pieces are not
    /// indexed; a duplicate piece string keeps its smallest id). Children are placed depth-first,
    /// so a walk down one branch stays within a few neighbouring 2 KB blocks.
    static func build(offsets: UnsafeBufferPointer<UInt32>, bytes: UnsafeBufferPointer<UInt8>) -> [UInt64] {
        let count = offsets.count - 1
        guard let base = bytes.baseAddress else { return [UInt64](repeating: 0, count: blockUnits) }
        // Sort (first 8 bytes big-endian, id) pairs; equal heads are rare and compared in full.
        var order: [(head: UInt64, id: Int32)] = []
        order.reserveCapacity(count)
        for id in 0..<count {
            let start = Int(offsets[id]), end = Int(offsets[id + 1])
            guard end > start else { continue }
            var head: UInt64 = 0
            for k in 0..<8 { head = head << 8 | UInt64(start + k < end ? base[start + k] : 0) }
            order.append((head, Int32(id)))
        }
        order.sort { a, b in
            if a.head != b.head { return a.head < b.head }
            let sa = Int(offsets[Int(a.id)]), la = Int(offsets[Int(a.id) + 1]) - sa
            let sb = Int(offsets[Int(b.id)]), lb = Int(offsets[Int(b.id) + 1]) - sb
            let n = min(la, lb)
            var k = 8
            while k < n {
                let x = base[sa + k], y = base[sb + k]
                if x != y { return x < y }
                k += 1
            }
            return la != lb ? la < lb : a.id < b.id
        }
        let keys = order.map(\.id)
        // Depth-first placement measured faster on the benchmark corpus than breadth-first
        // (pure BFS −5%) or BFS of the first 2–3 levels (−1–2%).
        var builder = Builder()
        keys.withUnsafeBufferPointer { keys in
            builder.place(node: 0, keys: keys, lo: 0, hi: keys.count, depth: 0, offsets: offsets, bytes: base)
        }
        return builder.units
    }

    /// darts-clone's placement: blocks of 256 units; free units of the last 16 blocks on a
    /// circular list; a node's children go to the first base whose 256-unit block has all their
    /// slots free; older blocks are closed (their free units stay zero).
    private struct Builder {
        var units = [UInt64](repeating: 0, count: PieceTrie.blockUnits)   // block 0: root only
        var usedBase = [Bool](repeating: false, count: PieceTrie.blockUnits)
        var next = [Int32](repeating: -1, count: PieceTrie.blockUnits)
        var prev = [Int32](repeating: -1, count: PieceTrie.blockUnits)
        var head = -1
        var firstOpenBlock = 1
        var labels: [UInt8] = []
        var starts: [Int] = []
        static let openBlocks = 16

        init() { usedBase[0] = true }

        mutating func unlink(_ u: Int) {
            let n = Int(next[u]), p = Int(prev[u])
            if n == u {
                head = -1
            } else {
                next[p] = Int32(n)
                prev[n] = Int32(p)
                if head == u { head = n }
            }
            next[u] = -1
            prev[u] = -1
        }

        mutating func addBlock() {
            let start = units.count
            let size = PieceTrie.blockUnits
            units.append(contentsOf: repeatElement(0, count: size))
            usedBase.append(contentsOf: repeatElement(false, count: size))
            next.append(contentsOf: repeatElement(-1, count: size))
            prev.append(contentsOf: repeatElement(-1, count: size))
            for u in start..<(start + size) {
                if head < 0 {
                    head = u
                    next[u] = Int32(u)
                    prev[u] = Int32(u)
                } else {
                    let tail = Int(prev[head])
                    next[tail] = Int32(u)
                    prev[u] = Int32(tail)
                    next[u] = Int32(head)
                    prev[head] = Int32(u)
                }
            }
            while units.count / size - firstOpenBlock > Self.openBlocks {
                let from = firstOpenBlock * size
                for u in from..<(from + size) where next[u] >= 0 { unlink(u) }
                firstOpenBlock += 1
            }
        }

        mutating func findBase(_ labels: UnsafeBufferPointer<UInt8>) -> Int {
            let first = Int(labels[0])
            if head >= 0 {
                var u = head
                repeat {
                    let base = u ^ first
                    if !usedBase[base] {
                        var fits = true
                        for c in labels.dropFirst() where units[base ^ Int(c)] != 0 { fits = false; break }
                        if fits { return base }
                    }
                    u = Int(next[u])
                } while u != head
            }
            addBlock()
            return (units.count - PieceTrie.blockUnits) ^ first
        }

        /// `keys[lo..<hi]` share their first `depth` bytes (the path to `node`); the ones of
        /// exactly that length come first.
        mutating func place(node: Int, keys: UnsafeBufferPointer<Int32>, lo: Int, hi: Int, depth: Int,
                            offsets: UnsafeBufferPointer<UInt32>, bytes: UnsafePointer<UInt8>) {
            @inline(__always) func length(_ i: Int) -> Int { Int(offsets[Int(keys[i]) + 1] - offsets[Int(keys[i])]) }
            @inline(__always) func byte(_ i: Int) -> UInt8 { bytes[Int(offsets[Int(keys[i])]) + depth] }
            var i = lo
            if i < hi, length(i) == depth {
                units[node] |= UInt64(UInt32(keys[i]) + 1) << 32
                while i < hi, length(i) == depth { i += 1 }
            }
            guard i < hi else { return }
            // This node's labels and child ranges go on shared stacks (popped on return).
            let mark = labels.count
            defer { labels.removeSubrange(mark...); starts.removeSubrange(mark...) }
            while i < hi {
                let c = byte(i)
                labels.append(c)
                starts.append(i)
                i += 1
                while i < hi, byte(i) == c { i += 1 }
            }
            let childCount = labels.count - mark
            let base = labels.withUnsafeBufferPointer { findBase(UnsafeBufferPointer(rebasing: $0[mark...])) }
            usedBase[base] = true
            for k in mark..<labels.count {
                let c = labels[k]
                let t = base ^ Int(c)
                units[t] = PieceTrie.usedBit | UInt64(c)
                unlink(t)
            }
            units[node] |= UInt64(base) << PieceTrie.baseShift
            for k in 0..<childCount {
                let c = labels[mark + k]
                let end = k + 1 < childCount ? starts[mark + k + 1] : hi
                place(node: base ^ Int(c), keys: keys, lo: starts[mark + k], hi: end, depth: depth + 1,
                      offsets: offsets, bytes: bytes)
            }
        }
    }

    // MARK: - Validation

    /// Checks a `PTRI` block against `vocabulary` and returns its units. Linear in the block and
    /// the piece count; afterwards every walk stays in bounds and every id is a piece:
    /// * header: `unit_count` a multiple of 256 in 256…2²³, size = 24 + 8 × `unit_count`,
    ///   `piece_count` = the vocabulary's, reserved 0, `pieces_xxh64` = the POFS ‖ PBYT hash;
    /// * block 0 is all zero except the root's base; a free unit is all zero;
    /// * every base < `unit_count` (so `base ^ byte` is in bounds) and no non-zero base is
    ///   shared by two nodes (so a label match identifies the parent: the units form a tree);
    /// * every piece id + 1 ≤ `piece_count`, each id at most once, the piece's last byte is the
    ///   unit's label, and `entry_count` units carry one.
    static func validate(_ block: UnsafeRawBufferPointer, vocabulary: VocabularyView) throws -> UnsafeBufferPointer<UInt64> {
        func fail(_ field: String, _ problem: String) -> TokenizerError {
            TokenizerError(.malformed, field: "\(tag).\(field)", problem: problem,
                           fix: "re-convert the model (the PTRI block is derived from POFS/PBYT), or drop the block to have it rebuilt at load")
        }
        guard block.count >= headerSize else {
            throw fail("size", "\(block.count) bytes cannot hold the \(headerSize)-byte header")
        }
        func u32(_ offset: Int) -> Int { Int(UInt32(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        let unitCount = u32(0), pieceCount = u32(4), entryCount = u32(8), reserved = u32(12)
        let hash = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard unitCount >= blockUnits, unitCount <= maxUnits, unitCount % blockUnits == 0 else {
            throw fail("unit_count", "\(unitCount) is not a multiple of \(blockUnits) in \(blockUnits)…\(maxUnits)")
        }
        guard block.count == headerSize + 8 * unitCount else {
            throw fail("size", "\(block.count) bytes ≠ \(headerSize) + 8 × \(unitCount) units")
        }
        guard pieceCount == vocabulary.pieceCount else {
            throw fail("piece_count", "\(pieceCount) ≠ the vocabulary's \(vocabulary.pieceCount) pieces")
        }
        guard reserved == 0 else { throw fail("reserved", "\(reserved) is not 0") }
        let piecesHash = fingerprint(offsets: UnsafeRawBufferPointer(vocabulary.pieceOffsets), bytes: vocabulary.pieceBytes)
        guard hash == piecesHash else {
            throw fail("pieces_xxh64", "0x\(String(hash, radix: 16)) ≠ 0x\(String(piecesHash, radix: 16)), the hash of this file's POFS ‖ PBYT: the trie was built for other pieces")
        }
        // Blocks are 8-aligned in a 64-aligned buffer; the units start 24 bytes in.
        guard Int(bitPattern: block.baseAddress) % 8 == 0 else {
            throw fail("offset", "the block is not 8-byte aligned")
        }
        let units = UnsafeRawBufferPointer(rebasing: block[headerSize...]).bindMemory(to: UInt64.self)
        let root = UInt64(littleEndian: units[0])
        guard root & ~(baseMask << baseShift) == 0 else {
            throw fail("units[0]", "the root unit has bits other than its base set (0x\(String(root, radix: 16)))")
        }
        for u in 1..<blockUnits where units[u] != 0 {
            throw fail("units[\(u)]", "block 0 must be empty apart from the root (so base 0 means no children)")
        }
        var baseSeen = [UInt64](repeating: 0, count: unitCount / 64)
        var idSeen = [UInt64](repeating: 0, count: pieceCount / 64 + 1)
        var entries = 0
        let offsets = vocabulary.pieceOffsets
        let pieceBytes = vocabulary.pieceBytes.bindMemory(to: UInt8.self)
        try baseSeen.withUnsafeMutableBufferPointer { baseSeen in
        try idSeen.withUnsafeMutableBufferPointer { idSeen in
            for t in 0..<unitCount where t == 0 || t >= blockUnits {
                let unit = UInt64(littleEndian: units[t])
                if t != 0, unit & usedBit == 0 {
                    guard unit == 0 else { throw fail("units[\(t)]", "free unit is not all zero (0x\(String(unit, radix: 16)))") }
                    continue
                }
                let base = Int((unit >> baseShift) & baseMask)
                if base != 0 {
                    guard base < unitCount else {
                        throw fail("units[\(t)].base", "\(base) is past the \(unitCount)-unit array")
                    }
                    guard baseSeen[base >> 6] & (1 << UInt64(base & 63)) == 0 else {
                        throw fail("units[\(t)].base", "base \(base) is shared with another node")
                    }
                    baseSeen[base >> 6] |= 1 << UInt64(base & 63)
                }
                let idPlusOne = Int(unit >> 32)
                guard idPlusOne != 0 else { continue }
                guard idPlusOne <= pieceCount, t != 0 else {
                    throw fail("units[\(t)].id", "piece id \(idPlusOne - 1) is not a piece of this vocabulary (0..<\(pieceCount)) or sits on the root")
                }
                let id = idPlusOne - 1
                guard idSeen[id >> 6] & (1 << UInt64(id & 63)) == 0 else {
                    throw fail("units[\(t)].id", "piece \(id) appears at two nodes")
                }
                idSeen[id >> 6] |= 1 << UInt64(id & 63)
                let end = Int(offsets[id + 1])
                guard end > Int(offsets[id]), pieceBytes[end - 1] == UInt8(truncatingIfNeeded: unit) else {
                    throw fail("units[\(t)].id", "piece \(id) does not end with this node's label \(unit & 0xFF)")
                }
                entries += 1
            }
        }}
        guard entries == entryCount else {
            throw fail("entry_count", "\(entryCount) ≠ the \(entries) units that carry a piece id")
        }
        return units
    }
}
