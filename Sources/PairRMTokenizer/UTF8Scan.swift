/// UTF-8 helpers with exactly the decoding rules the references use. Kept byte-level on purpose:
/// pieces are byte strings, and Swift `String` comparison would apply canonical equivalence.
enum UTF8Scan {
    /// sentencepiece `OneCharLen` (src/util.h): the sequence length announced by a lead byte,
    /// 1 for ASCII and for stray continuation bytes. The Viterbi advances by this, so it must
    /// match even on odd input.
    @inline(__always)
    static func oneCharLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// Strict UTF-8 decode of the scalar at `i` (sentencepiece `DecodeUTF8`: no overlongs, no
    /// surrogates, ≤ U+10FFFF). Returns nil for a malformed sequence, whose caller then consumes
    /// exactly one byte, as sentencepiece does.
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (scalar: UInt32, length: Int)? {
        let n = p.count - i
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            let b = p[i + k]
            return b & 0xC0 == 0x80 ? UInt32(b & 0x3F) : nil
        }
        if b0 & 0xE0 == 0xC0, n >= 2, let c1 = cont(1) {
            let cp = (b0 & 0x1F) << 6 | c1
            return cp >= 0x80 ? (cp, 2) : nil
        }
        if b0 & 0xF0 == 0xE0, n >= 3, let c1 = cont(1), let c2 = cont(2) {
            let cp = (b0 & 0x0F) << 12 | c1 << 6 | c2
            return cp >= 0x800 && !(0xD800...0xDFFF).contains(cp) ? (cp, 3) : nil
        }
        if b0 & 0xF8 == 0xF0, n >= 4, let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) {
            let cp = (b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            return cp >= 0x10000 && cp <= 0x10FFFF ? (cp, 4) : nil
        }
        return nil
    }

    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Rust `char::is_whitespace` = Unicode White_Space, the set HF's `Strip` removes.
    @inline(__always)
    static func isWhiteSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Whether `bytes` is well-formed by `decode`'s rules.
    static func isValid(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < p.count {
            if p[i] < 0x80 { i += 1; continue }
            guard let (_, len) = decode(p, at: i) else { return false }
            i += len
        }
        return true
    }

    /// Replaces every malformed byte by U+FFFD, one replacement per byte, the policy of
    /// sentencepiece's normalizer. (Swift's own repair uses "maximal subparts" and would give
    /// fewer U+FFFDs for truncated sequences.)
    static func repaired(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(p.count + 8)
        var i = 0
        while i < p.count {
            if p[i] < 0x80 { out.append(p[i]); i += 1; continue }
            if let (_, len) = decode(p, at: i) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<(i + len)]))
                i += len
            } else {
                out.append(contentsOf: replacementCharacter)
                i += 1
            }
        }
        return out
    }
}
