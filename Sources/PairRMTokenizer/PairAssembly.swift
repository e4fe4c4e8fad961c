/// PairRM model input for one (source, candidate A, candidate B) triple
/// (Formats/pairrm-model.md §2.2–§2.3):
/// `[CLS] <|source|> s… [SEP] [CLS] <|candidate1|> a… [SEP] [CLS] <|candidate2|> b… [SEP]`.
public struct PairEncoding: Equatable, Sendable {
    public var ids: [Int32]
    /// Positions of `<|source|>`, `<|candidate1|>`, `<|candidate2|>` in `ids` (what the head pools).
    public var sourcePosition: Int
    public var candidateAPosition: Int
    public var candidateBPosition: Int
}

extension Tokenizer {
    /// Builds the PairRM input exactly as LLM-Blender's `tokenize_pair` with the fast tokenizer:
    /// each part is `encode(prefix + text, max_length, truncation=True)` = `[CLS]`, the first
    /// `maxLength − 2` content ids (prefix included), `[SEP]`; the candidate cap is
    /// `(sourceMaxLength + 2·candidateMaxLength − Ls) / 2` with `Ls` the source part's length.
    ///
    /// Deliberate difference from the reference: prefix-token strings (`<|source|>`,
    /// `<|candidate1|>`, `<|candidate2|>`, `<|candidate|>`) inside the user texts are encoded as
    /// plain text, so the result always holds exactly one of each prefix id. (The reference turns
    /// them into extra prefix ids, which then breaks its own head — Formats/pairrm-model.md §2.4 "Edge
    /// behaviour".) Other literal special strings (`[SEP]`, `[CLS]`, `[UNK]`...) keep the
    /// reference behaviour and become their ids.
    public func encodePair(source: String, candidateA: String, candidateB: String,
                           sourceMaxLength: Int = 1224, candidateMaxLength: Int = 412) throws -> PairEncoding {
        guard sourceMaxLength >= 3, candidateMaxLength >= 3 else {
            throw TokenizerError(.invalidArgument, field: sourceMaxLength < 3 ? "sourceMaxLength" : "candidateMaxLength",
                                 problem: "must be ≥ 3 to hold [CLS], the prefix token and [SEP]",
                                 fix: "use PairRM's 1224 / 412")
        }
        let s = try encodePart(prefix: "<|source|>", text: source)
        let a = try encodePart(prefix: "<|candidate1|>", text: candidateA)
        let b = try encodePart(prefix: "<|candidate2|>", text: candidateB)
        return assemblePair(source: s, candidateA: a, candidateB: b, sourceMaxLength: sourceMaxLength, candidateMaxLength: candidateMaxLength)
    }

    /// One part's content before truncation: the prefix id, then the text's ids (no `[CLS]`/`[SEP]`).
    /// Callers that pair one source with many candidates encode each text once with this and
    /// assemble every pair with `assemblePair`.
    public func encodePart(prefix prefixName: String, text: String) throws -> [Int32] {
        guard let prefixID = prefixIDs[prefixName] else {
            throw TokenizerError(.missing, field: "ADDT \"\(prefixName)\"",
                                 problem: "the vocabulary has no \(prefixName) added token",
                                 fix: "convert from the PairRM checkpoint, whose tokenizer registers the four prefix tokens")
        }
        var content: [Int32] = []
        var bytes = Array(prefixName.utf8)
        bytes.append(contentsOf: text.utf8)
        bytes.withUnsafeBufferPointer { p in
            encodeHuggingFace(p, leadingPrefix: (Array(prefixName.utf8), prefixID), contentOnly: true, into: &content)
        }
        // The prefix is normally recognized right at the start of the normalized text; if a
        // vocabulary's normalizer ever rewrote it, the guarantee still holds this way.
        if content.first != prefixID {
            var text = text
            content = [prefixID] + text.withUTF8 { encodeValidated($0, mode: .pairRM, contentOnly: true) }
        }
        return content
    }

    /// A run of text without an ASCII space longer than this cannot be tokenized in bounded
    /// memory (the whole run is one pre-tokenizer word, so its ids depend on all of it).
    public static let maxWordBytes = 1 << 20

    /// `encodePart` for a part that will be cut to `limit` content ids: reads only as much of
    /// `text` as that needs, so memory follows the token budget, not the text. The text is cut
    /// just before an ASCII space — the pre-tokenizer splits words there and each word is
    /// encoded on its own, so the ids of the words before the cut are exactly those of the whole
    /// text — and the cut doubles until more than `limit` ids come out. `isWhole` is false when
    /// the text was cut (it then has more than `limit` content ids). Throws when a cut would need
    /// a space-free run longer than `maxWordBytes`.
    public func encodePart(prefix prefixName: String, text: String, limit: Int) throws -> (content: [Int32], isWhole: Bool) {
        var text = text
        return try text.withUTF8 { bytes -> ([Int32], Bool) in
            var window = max(1 << 16, limit * 64)
            while window < bytes.count {
                let searchEnd = min(window, bytes.count)
                var cut = searchEnd
                while cut > 0, bytes[cut - 1] != 0x20 { cut -= 1 }
                if cut <= 1 {
                    guard searchEnd <= Tokenizer.maxWordBytes else {
                        throw TokenizerError(.invalidArgument, field: "text",
                                             problem: "its first \(Tokenizer.maxWordBytes) bytes hold no space, so it cannot be cut to its token budget without reading all \(bytes.count) bytes",
                                             fix: "pass texts whose words (runs without spaces) are under \(Tokenizer.maxWordBytes) bytes")
                    }
                    window *= 2
                    continue
                }
                let part = String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<(cut - 1)]), as: UTF8.self)
                let content = try encodePart(prefix: prefixName, text: part)
                if content.count > limit + 1 { return (content, false) }
                window *= 2
            }
            guard bytes.count <= Tokenizer.maxWordBytes || bytes.contains(0x20) else {
                throw TokenizerError(.invalidArgument, field: "text",
                                     problem: "\(bytes.count) bytes without a space cannot be cut to a token budget in bounded memory",
                                     fix: "pass texts whose words (runs without spaces) are under \(Tokenizer.maxWordBytes) bytes")
            }
            return (try encodePart(prefix: prefixName, text: String(decoding: bytes, as: UTF8.self)), true)
        }
    }

    /// The source part as the model sees it: `[CLS]`, its first `sourceMaxLength − 2` content ids, `[SEP]`.
    public func sourcePart(_ content: [Int32], sourceMaxLength: Int) -> [Int32] {
        [classifierID] + content.prefix(max(sourceMaxLength, 3) - 2) + [separatorID]
    }

    /// How many ids (with `[CLS]`/`[SEP]`) each candidate part may hold after a source part of
    /// `sourcePartLength` ids: `(sourceMaxLength + 2·candidateMaxLength − Ls) / 2`, at least 3.
    public func candidateCap(sourcePartLength: Int, sourceMaxLength: Int, candidateMaxLength: Int) -> Int {
        // Budgets beyond any real window are clamped first so the sum cannot overflow.
        let limit = 1 << 40
        return max((min(sourceMaxLength, limit) + 2 * min(candidateMaxLength, limit) - sourcePartLength) / 2, 3)
    }

    /// `[CLS]` + the first `cap − 2` content ids + `[SEP]`.
    public func candidatePart(_ content: [Int32], cap: Int) -> [Int32] {
        [classifierID] + content.prefix(max(cap, 3) - 2) + [separatorID]
    }

    /// The pair from parts made by `encodePart`, truncated as `encodePair` describes.
    public func assemblePair(source: [Int32], candidateA: [Int32], candidateB: [Int32],
                             sourceMaxLength: Int, candidateMaxLength: Int) -> PairEncoding {
        let s = sourcePart(source, sourceMaxLength: sourceMaxLength)
        let cap = candidateCap(sourcePartLength: s.count, sourceMaxLength: sourceMaxLength, candidateMaxLength: candidateMaxLength)
        let a = candidatePart(candidateA, cap: cap)
        let b = candidatePart(candidateB, cap: cap)
        return PairEncoding(ids: s + a + b, sourcePosition: 1, candidateAPosition: s.count + 1,
                            candidateBPosition: s.count + a.count + 1)
    }
}
