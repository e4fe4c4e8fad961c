import PairRMFormat

extension Tokenizer {
    /// The text of one id: its piece, or its added token's content (ids ≥ the piece count).
    /// nil for an id that is neither.
    public func token(for id: Int32) -> [UInt8]? {
        if id >= 0, Int(id) < vocabulary.pieceCount { return Array(vocabulary.piece(Int(id))) }
        return addedTokenByID[id].map { Array($0.content.utf8) }
    }

    /// Whether `id` is a special token (a special added token, or a CONTROL/UNKNOWN piece).
    public func isSpecial(_ id: Int32) -> Bool {
        if let token = addedTokenByID[id] { return token.special }
        guard id >= 0, Int(id) < vocabulary.pieceCount else { return false }
        let type = vocabulary.types[Int(id)]
        return type == PieceType.control.rawValue || type == PieceType.unknown.rawValue
    }

    /// Ids back to text. Unknown ids (out of range, not added) are ignored.
    ///
    /// * `.pairRM`: HF `tokenizers` decode with the Metaspace decoder: tokens concatenated, `▁` →
    ///   space, the first token's leading `▁` dropped; special tokens kept unless
    ///   `skipSpecialTokens`. (transformers' optional `clean_up_tokenization_spaces` is not applied.)
    /// * `.sentencePiece`: sentencepiece `DecodeIds`: runs of `<0xXX>` pieces reassembled into
    ///   UTF-8 (each malformed byte → U+FFFD), `▁` → space, leading space of the text dropped,
    ///   `[UNK]` → " ⁇ ". sentencepiece itself always drops control pieces, i.e. passes
    ///   `skipSpecialTokens: true`; with false their text is kept.
    public func decode(_ ids: [Int32], mode: TokenizerMode = .pairRM, skipSpecialTokens: Bool = false) -> String {
        var out: [UInt8] = []
        switch mode {
        case .pairRM:
            var first = true
            for id in ids {
                if skipSpecialTokens && isSpecial(id) { continue }
                guard let bytes = token(for: id) else { continue }
                var k = 0
                if first, bytes.starts(with: SentencePieceNormalizer.spaceSymbol) { k = 3 }
                first = false
                appendUnescaped(bytes, from: k, into: &out)
            }
        case .sentencePiece:
            var pendingBytes: [UInt8] = []
            var atStart = true
            func flushBytes() {
                guard !pendingBytes.isEmpty else { return }
                out.append(contentsOf: pendingBytes.withUnsafeBufferPointer { UTF8Scan.repaired($0) })
                pendingBytes.removeAll()
                atStart = false
            }
            for id in ids {
                guard let bytes = token(for: id) else { continue }
                let type = Int(id) < vocabulary.pieceCount && id >= 0 ? vocabulary.types[Int(id)] : PieceType.userDefined.rawValue
                if type == PieceType.byte.rawValue, let value = byteIDs.firstIndex(of: id) {
                    pendingBytes.append(UInt8(value))
                    continue
                }
                flushBytes()
                if type == PieceType.unknown.rawValue {
                    out.append(contentsOf: [0x20, 0xE2, 0x81, 0x87, 0x20])   // " ⁇ ", spm's unk_surface
                    atStart = false
                    continue
                }
                if type == PieceType.control.rawValue || isSpecial(id) {
                    if !skipSpecialTokens { out.append(contentsOf: bytes) }
                    continue
                }
                var k = 0
                if atStart, settings.addDummyPrefix, bytes.starts(with: SentencePieceNormalizer.spaceSymbol) { k = 3 }
                atStart = false
                appendUnescaped(bytes, from: k, into: &out)
            }
            flushBytes()
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func appendUnescaped(_ bytes: [UInt8], from start: Int, into out: inout [UInt8]) {
        var k = start
        while k < bytes.count {
            if k + 2 < bytes.count, bytes[k] == 0xE2, bytes[k + 1] == 0x96, bytes[k + 2] == 0x81 {
                out.append(0x20)
                k += 3
            } else {
                out.append(bytes[k])
                k += 1
            }
        }
    }
}
