import PairRMFormat
import PairRMSchema

/// Which reference a call reproduces, id for id.
public enum TokenizerMode: Sendable {
    /// transformers 4.x `DebertaV2TokenizerFast` (HF `tokenizers`), what PairRM was trained and
    /// is served with: added-token splitting, grapheme-wise charsmap, Metaspace words, f64
    /// Viterbi over every vocabulary entry, unknown runs fused into one `[UNK]`.
    case pairRM
    /// sentencepiece 0.2.3 `SentencePieceProcessor.encode`: whole-text normalizer, f32 Viterbi
    /// over NORMAL/USER_DEFINED pieces, byte fallback, added-token strings are plain text.
    case sentencePiece
}

/// The normalizer/trainer flags of the SentencePiece model. The runtime reads them from the
/// container metadata (`tokenizer.*`); the defaults are DeBERTa-v3's.
///
/// They drive `.sentencePiece` mode. `.pairRM` mode follows the HF converter's fixed pipeline
/// (Strip, charsmap, collapse, Metaspace "always") and never byte-falls-back, whatever these say.
public struct TokenizerSettings: Sendable, Equatable {
    public var addDummyPrefix: Bool
    public var removeExtraWhitespaces: Bool
    public var escapeWhitespaces: Bool
    public var byteFallback: Bool
    /// The `[UNK]` id; nil = the first piece of type UNKNOWN.
    public var unknownID: Int?

    public init(addDummyPrefix: Bool = true, removeExtraWhitespaces: Bool = true, escapeWhitespaces: Bool = true,
                byteFallback: Bool = true, unknownID: Int? = nil) {
        self.addDummyPrefix = addDummyPrefix
        self.removeExtraWhitespaces = removeExtraWhitespaces
        self.escapeWhitespaces = escapeWhitespaces
        self.byteFallback = byteFallback
        self.unknownID = unknownID
    }

    /// DeBERTa-v3 / PairRM `spm.model`.
    public static let debertaV3 = TokenizerSettings()
}

extension TokenizerSettings {
    /// The settings a `.prm` file records (Formats/prm-v1.md §4): `tokenizer.add_dummy_prefix`,
    /// `tokenizer.remove_extra_whitespaces`, `tokenizer.escape_whitespaces`,
    /// `tokenizer.byte_fallback`, `tokens.unk_id`; an absent key keeps the DeBERTa-v3 default.
    public init(metadata: Metadata) {
        let d = TokenizerSettings.debertaV3
        self.init(addDummyPrefix: metadata.bool(MetadataKey.tokenizerAddDummyPrefix) ?? d.addDummyPrefix,
                  removeExtraWhitespaces: metadata.bool(MetadataKey.tokenizerRemoveExtraWhitespaces) ?? d.removeExtraWhitespaces,
                  escapeWhitespaces: metadata.bool(MetadataKey.tokenizerEscapeWhitespaces) ?? d.escapeWhitespaces,
                  byteFallback: metadata.bool(MetadataKey.tokenizerByteFallback) ?? d.byteFallback,
                  unknownID: metadata.int(MetadataKey.tokensUnkId).map { Int($0) })
    }
}
