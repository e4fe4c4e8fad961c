/// The normalizer of the transformers 4.x fast DeBERTa-v2 tokenizer, applied to one segment
/// between non-normalized added tokens: `Strip(left, right)` → `Precompiled(charsmap)` applied
/// grapheme by grapheme → `Replace(" {2,}", " ")` (tokenizer-spec.md §6.2).
struct HuggingFaceNormalizer: Sendable {
    let charsmap: Charsmap
    /// First-match rule for each ASCII byte, so ASCII text skips the grapheme machinery.
    private let asciiRules: [Charsmap.Match?]

    init(charsmap: Charsmap) {
        self.charsmap = charsmap
        var rules: [Charsmap.Match?] = []
        var byte: UInt8 = 0
        for b in 0..<128 {
            byte = UInt8(b)
            rules.append(withUnsafePointer(to: &byte) { charsmap.firstMatch(UnsafeBufferPointer(start: $0, count: 1), from: 0, limit: 1) })
        }
        asciiRules = rules
    }

    /// Appends the normalized form of `p` (valid UTF-8) to `out`.
    func normalize(_ p: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
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
        let segmentStart = out.count
        // Collapsing on append is the same as the regex on the finished string: a run of spaces
        // in the output becomes one space wherever its parts came from.
        @inline(__always) func emit(_ bytes: UnsafeBufferPointer<UInt8>) {
            for b in bytes {
                if b == 0x20, out.count > segmentStart, out[out.count - 1] == 0x20 { continue }
                out.append(b)
            }
        }
        @inline(__always) func emitByte(_ b: UInt8) {
            if b == 0x20, out.count > segmentStart, out[out.count - 1] == 0x20 { return }
            out.append(b)
        }
        var i = lo
        while i < hi {
            // Fast path: an ASCII byte followed by ASCII (or the end) is a grapheme of its own,
            // except CR LF (UAX #29 GB3), which the general path handles.
            let b = p[i]
            if b < 0x80, b != 0x0D, i + 1 == hi || p[i + 1] < 0x80 {
                if let rule = asciiRules[Int(b)] { emit(rule.replacement) } else { emitByte(b) }
                i += 1
                continue
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
