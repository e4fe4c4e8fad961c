/// PairRM model input for one (source, candidate A, candidate B) triple (pairrm-spec.md §2.2–§2.3):
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
    /// them into extra prefix ids, which then breaks its own head — pairrm-spec.md §2.4 "Edge
    /// behaviour".) Other literal special strings (`[SEP]`, `[CLS]`, `[UNK]`...) keep the
    /// reference behaviour and become their ids.
    public func encodePair(source: String, candidateA: String, candidateB: String,
                           sourceMaxLength: Int = 1224, candidateMaxLength: Int = 412) throws -> PairEncoding {
        guard sourceMaxLength >= 3, candidateMaxLength >= 3 else {
            throw TokenizerError(.invalidArgument, field: sourceMaxLength < 3 ? "sourceMaxLength" : "candidateMaxLength",
                                 problem: "must be ≥ 3 to hold [CLS], the prefix token and [SEP]",
                                 fix: "use PairRM's 1224 / 412")
        }
        let cls = classifierID, sep = separatorID
        func part(_ prefixName: String, _ text: String, _ maxLength: Int) throws -> [Int32] {
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
            return [cls] + content.prefix(maxLength - 2) + [sep]
        }
        let s = try part("<|source|>", source, sourceMaxLength)
        let cap = (sourceMaxLength + 2 * candidateMaxLength - s.count) / 2
        let a = try part("<|candidate1|>", candidateA, max(cap, 3))
        let b = try part("<|candidate2|>", candidateB, max(cap, 3))
        return PairEncoding(ids: s + a + b, sourcePosition: 1, candidateAPosition: s.count + 1,
                            candidateBPosition: s.count + a.count + 1)
    }
}
