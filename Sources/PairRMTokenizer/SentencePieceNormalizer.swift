/// sentencepiece `Normalizer::Normalize` (google/sentencepiece `src/normalizer.cc`) on raw bytes:
/// longest charsmap rule at each position, malformed UTF-8 → U+FFFD consuming one byte, then the
/// whitespace state machine (drop leading spaces, dummy `▁` prefix, collapse runs, escape ' ' as
/// `▁`, drop trailing `▁`s).
struct SentencePieceNormalizer: Sendable {
    let charsmap: Charsmap
    let settings: TokenizerSettings

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]   // U+2581

    /// The next normalized chunk at `i`: replacement bytes and how many input bytes it consumes.
    @inline(__always)
    private func prefix(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UnsafeBufferPointer<UInt8>, Int) {
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
        var out: [UInt8] = []
        out.reserveCapacity(p.count + p.count / 4 + 4)
        var i = 0
        let removeExtra = settings.removeExtraWhitespaces
        if removeExtra {
            while i < p.count {
                let (chunk, consumed) = prefix(p, i)
                guard chunk.count == 1, chunk[0] == 0x20 else { break }
                i += consumed
            }
        }
        if i == p.count { return out }
        let space: [UInt8] = settings.escapeWhitespaces ? Self.spaceSymbol : [0x20]
        if settings.addDummyPrefix { out.append(contentsOf: space) }
        var previousWasSpace = removeExtra
        while i < p.count {
            let (chunk, consumed) = prefix(p, i)
            var k = 0
            if previousWasSpace && removeExtra {
                while k < chunk.count, chunk[k] == 0x20 { k += 1 }
            }
            if k < chunk.count {
                while k < chunk.count {
                    let b = chunk[k]
                    if b == 0x20 && settings.escapeWhitespaces { out.append(contentsOf: space) } else { out.append(b) }
                    k += 1
                }
                previousWasSpace = chunk[chunk.count - 1] == 0x20
            }
            i += consumed
            if !removeExtra { previousWasSpace = false }
        }
        if removeExtra {
            while out.count >= space.count, Array(out[(out.count - space.count)...]) == space {
                out.removeLast(space.count)
            }
        }
        return out
    }
}
