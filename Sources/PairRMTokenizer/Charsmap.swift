/// The `precompiled_charsmap` of a SentencePiece model (the `nmt_nfkc` normalizer), searched in
/// place: a darts-clone double array followed by a pool of NUL-terminated replacement strings.
///
/// Layout (google/sentencepiece `src/normalizer.cc`, `DecodePrecompiledCharsMap`):
/// `u32 trie_size`, `u32 unit[trie_size / 4]`, `u8 pool[]`. Nothing is copied at load; every
/// reachable unit and pool offset is validated once so a corrupt file fails with an error instead
/// of reading out of bounds, and the search still bounds-checks (cheaply) as a second line.
struct Charsmap: @unchecked Sendable {
    /// A normalization rule found in the input: the key length and the replacement bytes.
    struct Match: @unchecked Sendable {
        var keyLength: Int
        var replacement: UnsafeBufferPointer<UInt8>
    }

    private let units: UnsafeRawBufferPointer   // trie_size bytes, read as little-endian u32
    private let unitCount: Int
    let pool: UnsafeBufferPointer<UInt8>
    /// An empty blob means "no normalization rules" (identity), as in spm models without one.
    let isEmpty: Bool

    init(blob: UnsafeRawBufferPointer) throws {
        if blob.isEmpty {
            units = UnsafeRawBufferPointer(start: nil, count: 0)
            unitCount = 0
            pool = UnsafeBufferPointer(start: nil, count: 0)
            isEmpty = true
            return
        }
        func fail(_ field: String, _ problem: String) -> TokenizerError {
            TokenizerError(.malformed, field: "CMAP.\(field)", problem: problem,
                           fix: "re-convert the model: the CMAP block must be the spm.model precompiled_charsmap byte for byte")
        }
        guard blob.count >= 4 else { throw fail("trie_size", "blob of \(blob.count) bytes cannot hold the 4-byte trie size") }
        let trieSize = Int(UInt32(littleEndian: blob.loadUnaligned(as: UInt32.self)))
        guard trieSize % 4 == 0, trieSize >= 4 else {
            throw fail("trie_size", "\(trieSize) is not a positive multiple of 4 (the double array holds u32 units)")
        }
        guard trieSize < blob.count - 4 + 1 else {
            throw fail("trie_size", "\(trieSize) bytes of double array do not fit in the \(blob.count)-byte blob")
        }
        units = UnsafeRawBufferPointer(rebasing: blob[4..<(4 + trieSize)])
        unitCount = trieSize / 4
        let poolRaw = UnsafeRawBufferPointer(rebasing: blob[(4 + trieSize)...])
        pool = poolRaw.bindMemory(to: UInt8.self)
        isEmpty = false
        if let last = pool.last, last != 0 {
            throw fail("pool", "the replacement pool does not end with a NUL, so its last string is unterminated")
        }
        try validate(fail)
    }

    // darts-clone DoubleArrayUnit accessors (third_party/darts_clone/darts.h).
    @inline(__always) private func unit(_ i: Int) -> UInt32 {
        UInt32(littleEndian: units.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
    }
    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ u: UInt32) -> Int { Int(u & 0x7FFF_FFFF) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & 0x8000_00FF }
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// Walks every node reachable from the root once, checking each child index, each leaf and
    /// each pool offset. Reachable nodes ≤ units (44,288 for DeBERTa-v3) and each is visited once (the
    /// array is a DAWG: suffixes are shared, a cycle is cut by the visited set), so this is bounded.
    private func validate(_ fail: (String, String) -> TokenizerError) throws {
        let visited = UnsafeMutablePointer<Bool>.allocate(capacity: unitCount)
        visited.initialize(repeating: false, count: unitCount)
        defer { visited.deallocate() }
        // darts-clone builds from a DAWG, so shared suffix nodes are legitimate: visit each once.
        var stack: [Int] = [0]
        stack.reserveCapacity(1024)
        visited[0] = true
        while let node = stack.popLast() {
            let u = unit(node)
            let base = node ^ Self.offset(u)
            if node != 0, Self.hasLeaf(u) {
                guard base < unitCount else { throw fail("unit[\(node)]", "leaf index \(base) is past the \(unitCount)-unit array") }
                let v = Self.value(unit(base))
                guard v < pool.count else { throw fail("unit[\(base)]", "pool offset \(v) is past the \(pool.count)-byte pool") }
            }
            // The children base ^ c (c = 1…255) fill the 256-unit block of `base`: scan it 8
            // units at a time for labels equal to their c (= index ^ base in the low byte).
            let blockStart = base & ~255, low = UInt32(base & 255)
            if Self.littleEndianHost, blockStart + 256 <= unitCount {
                var j = 0
                while j < 256 {
                    // Units are little-endian (the containers' byte order is also the host's).
                    let labels = units.loadUnaligned(fromByteOffset: (blockStart + j) &* 4, as: SIMD8<UInt32>.self) & 0x8000_00FF
                    let expected = (SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7) &+ UInt32(j)) ^ low
                    let hits = labels .== expected
                    if any(hits) {
                        for lane in 0..<8 where hits[lane] && expected[lane] != 0 && !visited[blockStart + j + lane] {
                            visited[blockStart + j + lane] = true
                            stack.append(blockStart + j + lane)
                        }
                    }
                    j += 8
                }
            } else {
                for c in 1...255 {
                    let child = base ^ c
                    guard child < unitCount else { continue }   // the search treats it as "no transition"
                    if Self.label(unit(child)) == UInt32(c), !visited[child] {
                        visited[child] = true
                        stack.append(child)
                    }
                }
            }
        }
    }

    private static let littleEndianHost = 1.littleEndian == 1

    @inline(__always)
    private func replacement(_ unitIndex: Int) -> UnsafeBufferPointer<UInt8>? {
        guard unitIndex < unitCount else { return nil }
        let start = Self.value(unit(unitIndex))
        guard start < pool.count else { return nil }
        var end = start
        while end < pool.count, pool[end] != 0 { end += 1 }
        return UnsafeBufferPointer(rebasing: pool[start..<end])
    }

    /// Common-prefix search of `bytes[from..<limit]`, reporting either the longest key
    /// (sentencepiece) or the first = shortest one (Hugging Face `Precompiled`).
    @inline(__always)
    private func search(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int, longest: Bool) -> Match? {
        guard !isEmpty else { return nil }
        var id = Self.offset(unit(0))
        var best: Match?
        var i = from
        while i < limit {
            let c = bytes[i]
            // spm_precompiled stops at NUL; darts could never match it anyway (label 0 = leaf).
            if c == 0 { break }
            id ^= Int(c)
            guard id < unitCount else { break }
            let u = unit(id)
            if Self.label(u) != UInt32(c) { break }
            id ^= Self.offset(u)
            if Self.hasLeaf(u), let r = replacement(id) {
                best = Match(keyLength: i + 1 - from, replacement: r)
                if !longest { return best }
            }
            i += 1
        }
        return best
    }

    /// sentencepiece `NormalizePrefix`: the longest rule at `from`.
    @inline(__always)
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Match? {
        search(bytes, from: from, limit: bytes.count, longest: true)
    }

    /// HF `Precompiled::transform`: the first (shortest) rule that is a prefix of `bytes[from..<limit]`.
    @inline(__always)
    func firstMatch(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, limit: Int) -> Match? {
        search(bytes, from: from, limit: limit, longest: false)
    }

    /// Whether some key starts with the byte `first` followed by an ASCII byte (1...127).
    func hasASCIIContinuation(_ first: UInt8) -> Bool {
        guard !isEmpty, first != 0 else { return false }
        var id = Self.offset(unit(0)) ^ Int(first)
        guard id < unitCount, Self.label(unit(id)) == UInt32(first) else { return false }
        id ^= Self.offset(unit(id))
        for c in 1..<128 {
            let child = id ^ c
            if child < unitCount, Self.label(unit(child)) == UInt32(c) { return true }
        }
        return false
    }

    /// Every (key, replacement) pair, for tests and inspection (depth-first, keys in byte order).
    func allRules() -> [(key: [UInt8], replacement: [UInt8])] {
        guard !isEmpty else { return [] }
        var out: [(key: [UInt8], replacement: [UInt8])] = []
        var key: [UInt8] = []
        func walk(_ node: Int) {
            let u = unit(node)
            let base = node ^ Self.offset(u)
            if node != 0, Self.hasLeaf(u), let r = replacement(base) { out.append((key, Array(r))) }
            for c in 1...255 {
                let child = base ^ c
                guard child < unitCount, Self.label(unit(child)) == UInt32(c) else { continue }
                key.append(UInt8(c))
                walk(child)
                key.removeLast()
            }
        }
        walk(0)
        return out
    }
}
