/// The normalizer of the transformers 4.x fast DeBERTa-v2 tokenizer, applied to one segment
/// between non-normalized added tokens: `Strip(left, right)` → `Precompiled(charsmap)` applied
/// grapheme by grapheme → `Replace(" {2,}", " ")` (Formats/tokenizer.md §6.2).
struct HuggingFaceNormalizer: Sendable {
    let charsmap: Charsmap
    /// First-match rule for each ASCII byte, so ASCII text skips the grapheme machinery.
    private let asciiRules: [Charsmap.Match?]
    /// Per ASCII byte: 0 = kept as is, 1 = becomes one space, 2 = another rule (`asciiRules`).
    private let asciiAction: [UInt8]

    init(charsmap: Charsmap) {
        self.charsmap = charsmap
        var rules: [Charsmap.Match?] = []
        var byte: UInt8 = 0
        for b in 0..<128 {
            byte = UInt8(b)
            rules.append(withUnsafePointer(to: &byte) { charsmap.firstMatch(UnsafeBufferPointer(start: $0, count: 1), from: 0, limit: 1) })
        }
        asciiRules = rules
        asciiAction = rules.enumerated().map { b, rule in
            guard let rule else { return b == 0x20 ? 1 : 0 }
            return rule.replacement.count == 1 && rule.replacement[0] == 0x20 ? 1 : 2
        }
    }

    /// Appends the normalized form of `p` (valid UTF-8) to `out`.
    func normalize(_ p: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var sink = ScratchBuffer<UInt8>(capacity: p.count + 16)
        defer { sink.free() }
        normalize(p, into: &sink)
        out.append(contentsOf: sink.buffer)
    }

    /// Appends the normalized form of `p` (valid UTF-8) to `out`.
    func normalize(_ p: UnsafeBufferPointer<UInt8>, into out: inout ScratchBuffer<UInt8>) {
        // Strip: Rust `char::is_whitespace` at both ends, before the charsmap (so e.g. a trailing
        // ZWSP, which the charsmap turns into a space, survives).
        var lo = 0, hi = p.count
        while lo < hi, let (c, len) = UTF8Scan.decode(p, at: lo), UTF8Scan.isWhiteSpace(c) { lo += len }
        while hi > lo {
            var s = hi - 1
            while s > lo, p[s] & 0xC0 == 0x80 { s -= 1 }
            guard let (c, _) = UTF8Scan.decode(p, at: s), UTF8Scan.isWhiteSpace(c) else { break }
            hi = s
        }
        guard lo < hi else { return }
        // Collapsing on append is the same as the regex on the finished string: a run of spaces
        // in the output becomes one space wherever its parts came from (only within this segment).
        var lastWasSpace = false
        @inline(__always) func emit(_ bytes: UnsafeBufferPointer<UInt8>) {
            out.reserve(bytes.count)
            for b in bytes {
                if b == 0x20 { if lastWasSpace { continue }; lastWasSpace = true } else { lastWasSpace = false }
                out.unsafeAppend(b)
            }
        }
        out.reserve(hi - lo)
        asciiAction.withUnsafeBufferPointer { action in
        asciiRules.withUnsafeBufferPointer { asciiRules in
            var i = lo
            while i < hi {
                let b = p[i]
                // Fast path: a one-scalar grapheme. Its rule is the charsmap's first match on the
                // scalar, which is what both branches of the general path compute for it.
                if b < 0x80 {
                    // ASCII: its own grapheme unless it is CR or the next scalar may attach to it.
                    if i + 1 == hi || (b != 0x0D && Self.startsSimpleRight(p, i + 1, hi)) {
                        switch action[Int(b)] {
                        case 0:
                            if out.count == out.capacity { out.reserve(hi - i + 16) }
                            out.unsafeAppend(b)
                            lastWasSpace = false
                        case 1:
                            if !lastWasSpace {
                                if out.count == out.capacity { out.reserve(hi - i + 16) }
                                out.unsafeAppend(0x20)
                                lastWasSpace = true
                            }
                        default:
                            if let rule = asciiRules[Int(b)] { emit(rule.replacement) }
                        }
                        i += 1
                        continue
                    }
                } else {
                    let len = UTF8Scan.oneCharLength(b)
                    let j = i + len
                    if j <= hi, j == hi || Self.isSimple(p, i, len) && Self.startsSimpleRight(p, j, hi) {
                        if let m = charsmap.firstMatch(p, from: i, limit: j) {
                            emit(m.replacement)
                        } else {
                            out.reserve(len)
                            for k in i..<j { out.unsafeAppend(p[k]) }
                            lastWasSpace = false
                        }
                        i = j
                        continue
                    }
                }
                // General path: find the extended grapheme cluster starting at i. Swift's Character
                // is used only for the boundary; matching stays on bytes.
                let length = graphemeLength(p, from: i, to: hi)
                let g = i + length
                if length < 6, let m = charsmap.firstMatch(p, from: i, limit: g) {
                    // HF keeps only the first (shortest) rule's output and drops the rest of the grapheme.
                    emit(m.replacement)
                } else {
                    var k = i
                    while k < g {
                        let len = UTF8Scan.decode(p, at: k)?.length ?? 1
                        if let m = charsmap.firstMatch(p, from: k, limit: k + len) {
                            emit(m.replacement)
                        } else {
                            emit(UnsafeBufferPointer(rebasing: p[k..<(k + len)]))
                        }
                        k += len
                    }
                }
                i = g
            }
        }}
    }

    /// Code points that never join a grapheme cluster with a neighbour by any UAX #29 rule
    /// other than "break everywhere else" — neither Extend, ZWJ, SpacingMark, Prepend, CR, LF
    /// (as the left side), Hangul jamo, Regional_Indicator nor an Indic conjunct linker — taken
    /// from blocks that contain none of those (conservative: anything else takes the general
    /// path). Between two of them there is always a boundary, in every Unicode version.
    @inline(__always)
    static func isSimpleScalar(_ c: UInt32) -> Bool {
        switch c {
        case 0x00...0x2FF, 0x370...0x482, 0x48A...0x52F, 0x5D0...0x5EA, 0x620...0x64A,
             0x1E00...0x1FFF, 0x2010...0x2027, 0x2030...0x205E, 0x2070...0x20CF, 0x2100...0x2BFF,
             0x3000...0x3029, 0x3030...0x3096, 0x309B...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xAC00...0xD7A3, 0xFF01...0xFF9D:
            return true
        default:
            return false
        }
    }

    /// Whether the scalar of `len` bytes at `i` (valid UTF-8, not ASCII) is simple. CR is ASCII.
    @inline(__always)
    static func isSimple(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ len: Int) -> Bool {
        let b0 = UInt32(p[i])
        switch len {
        case 2: return isSimpleScalar((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F))
        case 3: return isSimpleScalar((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F))
        default: return false
        }
    }

    /// Whether the scalar starting at `j < hi` is simple (and so cannot attach to a simple scalar
    /// before it). ASCII is always simple on the right (LF only attaches to CR, excluded on the left).
    @inline(__always)
    static func startsSimpleRight(_ p: UnsafeBufferPointer<UInt8>, _ j: Int, _ hi: Int) -> Bool {
        let b = p[j]
        if b < 0xCC { return true }   // U+0000–U+02FF (or a stray byte, which the slow path never sees here)
        let len = UTF8Scan.oneCharLength(b)
        guard j + len <= hi else { return false }
        return isSimple(p, j, len)
    }

    /// Byte length of the extended grapheme cluster at `from` (`p` is valid UTF-8).
    ///
    /// Swift's `Character` decides the boundary, over a small window starting at `from` (a known
    /// boundary). A boundary found strictly inside the window is final: UAX #29 decides a
    /// boundary from the text before it plus the one code point after it, all inside the window.
    /// Only if the cluster reaches the window's end is the window widened. Windows of ≤ 15 bytes
    /// are Swift small strings, so the common case does not allocate.
    private func graphemeLength(_ p: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int {
        var byteBudget = 15
        while true {
            var end = from
            var scalars = 0
            while end < to {
                let len = UTF8Scan.decode(p, at: end)?.length ?? 1
                if scalars >= 2, end + len - from > byteBudget { break }
                end += len
                scalars += 1
            }
            let string = String(decoding: UnsafeBufferPointer(rebasing: p[from..<end]), as: UTF8.self)
            let length = max(string.first?.utf8.count ?? 1, 1)
            if from + length < end || end == to { return min(length, end - from) }
            byteBudget *= 4
        }
    }
}
