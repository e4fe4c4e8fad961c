/// sentencepiece `Normalizer::Normalize` (google/sentencepiece `src/normalizer.cc`) on raw bytes:
/// longest charsmap rule at each position, malformed UTF-8 → U+FFFD consuming one byte, then the
/// whitespace state machine (drop leading spaces, dummy `▁` prefix, collapse runs, escape ' ' as
/// `▁`, drop trailing `▁`s).
struct SentencePieceNormalizer: Sendable {
    let charsmap: Charsmap
    let settings: TokenizerSettings

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]   // U+2581

    /// Per ASCII byte: its longest-match chunk when the next byte is ASCII (or the text ends),
    /// or nil when some charsmap key continues it with another ASCII byte (then the general
    /// search runs). A kept byte's chunk is the byte itself (`keepsASCII`).
    private let asciiRules: [Charsmap.Match?]
    private let keepsASCII: [Bool]
    private let asciiNeedsSearch: [Bool]

    init(charsmap: Charsmap, settings: TokenizerSettings) {
        self.charsmap = charsmap
        self.settings = settings
        var rules: [Charsmap.Match?] = [], keeps: [Bool] = [], search: [Bool] = []
        for b in 0..<128 {
            let one = [UInt8(b)]
            let rule = one.withUnsafeBufferPointer { charsmap.longestMatch($0, from: 0) }
            rules.append(rule)
            keeps.append(rule == nil)
            search.append(charsmap.hasASCIIContinuation(UInt8(b)))
        }
        asciiRules = rules
        keepsASCII = keeps
        asciiNeedsSearch = search
    }

    /// The next normalized chunk at `i`: replacement bytes and how many input bytes it consumes.
    @inline(__always)
    private func prefix(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UnsafeBufferPointer<UInt8>, Int) {
        let b = p[i]
        if b < 0x80, i + 1 == p.count || p[i + 1] < 0x80, !asciiNeedsSearch[Int(b)] {
            if keepsASCII[Int(b)] { return (UnsafeBufferPointer(rebasing: p[i..<(i + 1)]), 1) }
            if let m = asciiRules[Int(b)] { return (m.replacement, 1) }
        }
        if let m = charsmap.longestMatch(p, from: i) { return (m.replacement, m.keyLength) }
        if let (_, length) = UTF8Scan.decode(p, at: i) {
            return (UnsafeBufferPointer(rebasing: p[i..<(i + length)]), length)
        }
        return (Self.replacement, 1)
    }

    nonisolated(unsafe) private static let replacement: UnsafeBufferPointer<UInt8> = {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 3)   // lives for the process
        _ = buffer.initialize(from: UTF8Scan.replacementCharacter)
        return UnsafeBufferPointer(buffer)
    }()

    func normalize(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var sink = ScratchBuffer<UInt8>(capacity: p.count + p.count / 4 + 8)
        defer { sink.free() }
        normalize(p, into: &sink)
        return Array(sink.buffer)
    }

    /// Replaces the contents of `out` with the normalized form of `p`.
    func normalize(_ p: UnsafeBufferPointer<UInt8>, into out: inout ScratchBuffer<UInt8>) {
        out.removeAll()
        out.reserve(p.count + p.count / 4 + 8)
        var i = 0
        let removeExtra = settings.removeExtraWhitespaces
        let escape = settings.escapeWhitespaces
        if removeExtra {
            while i < p.count {
                let (chunk, consumed) = prefix(p, i)
                guard chunk.count == 1, chunk[0] == 0x20 else { break }
                i += consumed
            }
        }
        if i == p.count { return }
        let spaceLength = escape ? 3 : 1
        @inline(__always) func appendSpace() {
            if escape {
                out.reserve(3)
                out.unsafeAppend(0xE2); out.unsafeAppend(0x96); out.unsafeAppend(0x81)
            } else {
                out.append(0x20)
            }
        }
        if settings.addDummyPrefix { appendSpace() }
        var previousWasSpace = removeExtra
        asciiNeedsSearch.withUnsafeBufferPointer { asciiNeedsSearch in
        keepsASCII.withUnsafeBufferPointer { keepsASCII in
            while i < p.count {
                // Fast path: a kept ASCII byte other than space, not continued by any key.
                let b = p[i]
                if b < 0x80, b != 0x20, keepsASCII[Int(b)], i + 1 == p.count || p[i + 1] < 0x80, !asciiNeedsSearch[Int(b)] {
                    out.append(b)
                    previousWasSpace = false
                    i += 1
                    continue
                }
                let (chunk, consumed) = prefix(p, i)
                var k = 0
                if previousWasSpace && removeExtra {
                    while k < chunk.count, chunk[k] == 0x20 { k += 1 }
                }
                if k < chunk.count {
                    out.reserve(3 * (chunk.count - k))
                    while k < chunk.count {
                        let b = chunk[k]
                        if b == 0x20 && escape {
                            out.unsafeAppend(0xE2); out.unsafeAppend(0x96); out.unsafeAppend(0x81)
                        } else {
                            out.unsafeAppend(b)
                        }
                        k += 1
                    }
                    previousWasSpace = chunk[chunk.count - 1] == 0x20
                }
                i += consumed
                if !removeExtra { previousWasSpace = false }
            }
        }}
        if removeExtra {
            while out.count >= spaceLength {
                let tail = out.base + (out.count - spaceLength)
                let isSpace = escape ? tail[0] == 0xE2 && tail[1] == 0x96 && tail[2] == 0x81 : tail[0] == 0x20
                guard isSpace else { break }
                out.count -= spaceLength
            }
        }
    }
}
