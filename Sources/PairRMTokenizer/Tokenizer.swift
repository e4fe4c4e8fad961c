import PairRMFormat

/// The DeBERTa-v3 unigram tokenizer, built over a container's vocabulary (no copy of the piece
/// table; the only tables built at load are the piece hash and a few small lookups).
///
/// Immutable and `Sendable`: one instance can serve many threads; every call allocates its own
/// scratch. Ids never include `[CLS]`/`[SEP]` unless the text or the assembly adds them.
public struct Tokenizer: @unchecked Sendable {
    public let vocabulary: VocabularyView
    public let settings: TokenizerSettings
    /// The `[UNK]` id.
    public let unknownID: Int32
    let charsmap: Charsmap
    let matcher: PieceMatcher
    let sentencePieceNormalizer: SentencePieceNormalizer
    let huggingFaceNormalizer: HuggingFaceNormalizer
    /// Pieces the sentencepiece lattice may use (NORMAL, USER_DEFINED).
    let sentencePieceMatchable: [Bool]
    let sentencePieceUnknownScore: Float
    let sentencePieceMaxScore: Float
    let huggingFaceUnknownScore: Double
    /// `<0xXX>` piece id per byte value (or the unknown id if the model lacks it).
    let byteIDs: [Int32]
    /// True when no sentencepiece-matchable piece has `▁` after its first character, so every
    /// `▁` in normalized text is a forced segmentation boundary and the lattice can run word by
    /// word (carrying the path score) with identical results and bounded memory.
    let spaceIsBoundary: Bool
    /// First pass of HF splitting: non-normalized added tokens, matched in the raw text.
    let rawTokenSplitter: AddedTokenSplitter
    /// Second pass: normalized added tokens, matched in normalized text.
    let normalizedTokenSplitter: AddedTokenSplitter
    /// Second pass without the PairRM prefix tokens, used for user text in `encodePair`.
    let contentTokenSplitter: AddedTokenSplitter
    let addedTokenByID: [Int32: AddedToken]
    /// `[CLS]` and `[SEP]` (added-token table first, then the piece table; DeBERTa-v3: 1 and 2).
    public let classifierID: Int32
    public let separatorID: Int32
    /// Ids of `<|source|>`, `<|candidate1|>`, `<|candidate2|>`, `<|candidate|>` when present.
    let prefixIDs: [String: Int32]

    public static let prefixStrings = ["<|source|>", "<|candidate1|>", "<|candidate2|>", "<|candidate|>"]

    public init(vocabulary: VocabularyView, settings: TokenizerSettings = .debertaV3) throws {
        self.vocabulary = vocabulary
        self.settings = settings
        let count = vocabulary.pieceCount
        guard count > 0 else {
            throw TokenizerError(.missing, field: "POFS", problem: "the vocabulary has no pieces",
                                 fix: "convert from an spm.model with its pieces")
        }
        let unk: Int
        if let explicit = settings.unknownID {
            guard explicit >= 0, explicit < count else {
                throw TokenizerError(.invalidArgument, field: "settings.unknownID",
                                     problem: "\(explicit) is not a piece id (0..<\(count))",
                                     fix: "pass the id of the model's UNKNOWN piece, or nil to find it")
            }
            unk = explicit
        } else {
            guard let found = (0..<count).first(where: { vocabulary.types[$0] == PieceType.unknown.rawValue }) else {
                throw TokenizerError(.missing, field: "PTYP", problem: "no piece has type UNKNOWN (2)",
                                     fix: "the spm.model must declare its [UNK] piece; re-convert it")
            }
            unk = found
        }
        unknownID = Int32(unk)
        charsmap = try Charsmap(blob: vocabulary.charsmap)
        sentencePieceNormalizer = SentencePieceNormalizer(charsmap: charsmap, settings: settings)
        huggingFaceNormalizer = HuggingFaceNormalizer(charsmap: charsmap)
        matcher = PieceMatcher(vocabulary: vocabulary)

        var matchable = [Bool](repeating: false, count: count)
        var minNormal = Float.greatestFiniteMagnitude, maxNormal = -Float.greatestFiniteMagnitude
        var minAll = Double.greatestFiniteMagnitude
        var bytes = [Int32](repeating: Int32(unk), count: 256)
        var spaceIsBoundary = true
        let pieceBytes = vocabulary.pieceBytes.bindMemory(to: UInt8.self)
        for id in 0..<count {
            let type = vocabulary.types[id]
            let score = vocabulary.scores[id]
            minAll = min(minAll, Double(score))
            let start = Int(vocabulary.pieceOffsets[id]), end = Int(vocabulary.pieceOffsets[id + 1])
            if type == PieceType.normal.rawValue {
                minNormal = min(minNormal, score)
                maxNormal = max(maxNormal, score)
            }
            if type == PieceType.normal.rawValue || type == PieceType.userDefined.rawValue {
                matchable[id] = end > start
                var k = start + 1
                while k + 2 < end {
                    if pieceBytes[k] == 0xE2, pieceBytes[k + 1] == 0x96, pieceBytes[k + 2] == 0x81 { spaceIsBoundary = false }
                    k += 1
                }
            }
            // sentencepiece ByteToPiece: "<0x%02X>".
            if type == PieceType.byte.rawValue, end - start == 6, let value = Self.parseBytePiece(pieceBytes, start) {
                bytes[value] = Int32(id)
            }
        }
        sentencePieceMatchable = matchable
        if minNormal > maxNormal { minNormal = 0; maxNormal = 0 }
        sentencePieceMaxScore = maxNormal
        // sentencepiece: `min_score_ - kUnkPenalty` stored as float; HF: f64 over all entries.
        sentencePieceUnknownScore = minNormal - 10
        huggingFaceUnknownScore = minAll - 10
        byteIDs = bytes
        self.spaceIsBoundary = spaceIsBoundary

        var raw: [AddedTokenSplitter.Token] = [], normalized: [AddedTokenSplitter.Token] = []
        var content: [AddedTokenSplitter.Token] = []
        var byID: [Int32: AddedToken] = [:]
        var prefixes: [String: Int32] = [:]
        for (index, token) in vocabulary.addedTokens.enumerated() {
            guard token.id >= 0, token.id <= Int(Int32.max), !token.content.isEmpty else {
                throw TokenizerError(.malformed, field: "ADDT[\(index)]",
                                     problem: "added token id \(token.id) / content \"\(token.content)\" is unusable",
                                     fix: "re-convert; added tokens need a non-negative id and non-empty content")
            }
            if token.singleWord {
                throw TokenizerError(.unsupported, field: "ADDT[\(index)].single_word",
                                     problem: "\"\(token.content)\" asks for single-word matching, which this tokenizer does not implement",
                                     fix: "clear single_word for this token (PairRM never sets it)")
            }
            let entry = AddedTokenSplitter.Token(id: Int32(token.id), content: Array(token.content.utf8),
                                                 lstrip: token.lstrip, rstrip: token.rstrip)
            if token.normalized {
                normalized.append(entry)
                if Self.prefixStrings.contains(token.content) {
                    prefixes[token.content] = Int32(token.id)
                } else {
                    content.append(entry)
                }
            } else {
                raw.append(entry)
                if Self.prefixStrings.contains(token.content) { prefixes[token.content] = Int32(token.id) }
            }
            if byID[Int32(token.id)] == nil { byID[Int32(token.id)] = token }
        }
        rawTokenSplitter = AddedTokenSplitter(tokens: raw)
        normalizedTokenSplitter = AddedTokenSplitter(tokens: normalized)
        contentTokenSplitter = AddedTokenSplitter(tokens: content)
        addedTokenByID = byID
        prefixIDs = prefixes
        let matcher = self.matcher
        func specialID(_ name: String, _ fallback: Int32) -> Int32 {
            if let token = vocabulary.addedTokens.first(where: { $0.content == name }) { return Int32(token.id) }
            let bytes = Array(name.utf8)
            return bytes.withUnsafeBufferPointer { matcher.id(of: $0) }.map(Int32.init) ?? fallback
        }
        classifierID = specialID("[CLS]", 1)
        separatorID = specialID("[SEP]", 2)
    }

    private static func parseBytePiece(_ p: UnsafeBufferPointer<UInt8>, _ s: Int) -> Int? {
        guard p[s] == UInt8(ascii: "<"), p[s + 1] == UInt8(ascii: "0"), p[s + 2] == UInt8(ascii: "x"),
              p[s + 5] == UInt8(ascii: ">") else { return nil }
        func hex(_ b: UInt8) -> Int? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b - UInt8(ascii: "0"))
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b - UInt8(ascii: "A")) + 10
            default: return nil
            }
        }
        guard let hi = hex(p[s + 3]), let lo = hex(p[s + 4]) else { return nil }
        return hi << 4 | lo
    }

    // MARK: - Encoding

    /// Token ids of `text` (no `[CLS]`/`[SEP]` added).
    public func encode(_ text: String, mode: TokenizerMode = .pairRM) -> [Int32] {
        var text = text
        return text.withUTF8 { encodeValidated($0, mode: mode, contentOnly: false) }
    }

    /// Token ids of raw bytes, which need not be valid UTF-8. Each malformed byte counts as one
    /// U+FFFD, which is what sentencepiece's normalizer does; in `.pairRM` mode the bytes are
    /// repaired that way first (HF only accepts `str`), so both modes see the same text.
    public func encode(bytes: some Collection<UInt8>, mode: TokenizerMode = .pairRM) -> [Int32] {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { p in
            if mode == .sentencePiece || UTF8Scan.isValid(p) {
                return encodeValidated(p, mode: mode, contentOnly: false)
            }
            let repaired = UTF8Scan.repaired(p)
            return repaired.withUnsafeBufferPointer { encodeValidated($0, mode: mode, contentOnly: false) }
        }
    }

    /// `contentOnly`: the PairRM prefix tokens are not recognized (user text in `encodePair`).
    func encodeValidated(_ p: UnsafeBufferPointer<UInt8>, mode: TokenizerMode, contentOnly: Bool) -> [Int32] {
        switch mode {
        case .sentencePiece: return encodeSentencePiece(p)
        case .pairRM:
            var out: [Int32] = []
            encodeHuggingFace(p, leadingPrefix: nil, contentOnly: contentOnly, into: &out)
            return out
        }
    }

    /// The HF fast pipeline (tokenizer-spec.md §6.2). With `leadingPrefix`, `p` starts with that
    /// normalized added token's content, which is matched once at the start of the first segment
    /// and never again (the `encodePair` guarantee).
    func encodeHuggingFace(_ p: UnsafeBufferPointer<UInt8>, leadingPrefix: (content: [UInt8], id: Int32)?,
                           contentOnly: Bool, into out: inout [Int32]) {
        var rawPieces: [AddedTokenSplitter.Piece] = []
        rawTokenSplitter.split(p, from: 0, to: p.count, into: &rawPieces)
        var normalized: [UInt8] = []
        var pieces: [AddedTokenSplitter.Piece] = []
        var words = WordEncoder(tokenizer: self)
        var pendingPrefix = leadingPrefix
        let splitter = contentOnly || leadingPrefix != nil ? contentTokenSplitter : normalizedTokenSplitter
        for raw in rawPieces {
            if let id = raw.tokenID {
                pendingPrefix = nil
                out.append(id)
                continue
            }
            normalized.removeAll(keepingCapacity: true)
            huggingFaceNormalizer.normalize(UnsafeBufferPointer(rebasing: p[raw.start..<raw.end]), into: &normalized)
            normalized.withUnsafeBufferPointer { n in
                var from = 0
                if let prefix = pendingPrefix {
                    pendingPrefix = nil
                    if n.count >= prefix.content.count, Array(n[0..<prefix.content.count]) == prefix.content {
                        out.append(prefix.id)
                        from = prefix.content.count
                    }
                }
                pieces.removeAll(keepingCapacity: true)
                splitter.split(n, from: from, to: n.count, into: &pieces)
                for piece in pieces {
                    if let id = piece.tokenID { out.append(id) } else { words.encode(n, from: piece.start, to: piece.end, into: &out) }
                }
            }
        }
    }

    /// sentencepiece-exact encoding (tokenizer-spec.md §3–§5).
    func encodeSentencePiece(_ p: UnsafeBufferPointer<UInt8>) -> [Int32] {
        let normalized = sentencePieceNormalizer.normalize(p)
        var out: [Int32] = []
        guard !normalized.isEmpty else { return out }
        var lattice = Lattice()
        var nodes: [Lattice.Node] = []
        let maxScore = sentencePieceMaxScore
        let vocabulary = self.vocabulary
        normalized.withUnsafeBufferPointer { n in
            sentencePieceMatchable.withUnsafeBufferPointer { allowed in
                // sentencepiece: USER_DEFINED pieces score length × max_score − 0.1 (always win).
                let userDefined: (Int, Int) -> Float? = { id, length in
                    vocabulary.types[id] == PieceType.userDefined.rawValue ? Float(length) * maxScore - 0.1 : nil
                }
                var base: Float = 0
                var chunkStart = 0
                func run(_ to: Int) {
                    nodes.removeAll(keepingCapacity: true)
                    base = lattice.bestPathFloat(n, from: chunkStart, to: to, base: base, matcher: matcher,
                                                 scores: vocabulary.scores, allowed: allowed, userDefinedScore: userDefined,
                                                 unknownScore: sentencePieceUnknownScore, unknownID: unknownID, into: &nodes)
                    emitSentencePiece(nodes, n, into: &out)
                    chunkStart = to
                }
                if spaceIsBoundary {
                    var k = 1
                    while k + 2 < n.count {
                        if n[k] == 0xE2, n[k + 1] == 0x96, n[k + 2] == 0x81 { run(k) }
                        k += 1
                    }
                }
                run(n.count)
            }
        }
        return out
    }

    private func emitSentencePiece(_ nodes: [Lattice.Node], _ n: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        for node in nodes {
            guard node.isUnknown else { out.append(node.id); continue }
            if settings.byteFallback {
                // Each unknown node is one character; its UTF-8 bytes become <0xXX> pieces.
                for k in node.start..<node.end { out.append(byteIDs[Int(n[k])]) }
            } else if out.last != unknownID {
                // Without byte fallback sentencepiece merges adjacent unknown pieces.
                out.append(unknownID)
            }
        }
    }
}

/// Metaspace + Viterbi for one normalized piece between added tokens (HF mode).
struct WordEncoder {
    let tokenizer: Tokenizer
    var lattice = Lattice()
    var buffer: [UInt8] = []
    var nodes: [Lattice.Node] = []

    init(tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// Metaspace (replacement "▁", prepend "always", split): ' ' → '▁', prepend '▁' unless
    /// present, split before every '▁'; then each word through the f64 lattice, fusing unknowns.
    mutating func encode(_ n: UnsafeBufferPointer<UInt8>, from: Int, to: Int, into out: inout [Int32]) {
        guard to > from else { return }
        buffer.removeAll(keepingCapacity: true)
        let startsWithSpaceSymbol = to - from >= 3 && n[from] == 0xE2 && n[from + 1] == 0x96 && n[from + 2] == 0x81
        if !startsWithSpaceSymbol && n[from] != 0x20 { buffer.append(contentsOf: SentencePieceNormalizer.spaceSymbol) }
        for k in from..<to {
            if n[k] == 0x20 { buffer.append(contentsOf: SentencePieceNormalizer.spaceSymbol) } else { buffer.append(n[k]) }
        }
        let tokenizer = self.tokenizer
        buffer.withUnsafeBufferPointer { w in
            var wordStart = 0
            var k = 3
            while k <= w.count {
                let atEnd = k == w.count
                if atEnd || (k + 2 < w.count && w[k] == 0xE2 && w[k + 1] == 0x96 && w[k + 2] == 0x81) {
                    nodes.removeAll(keepingCapacity: true)
                    lattice.bestPathDouble(w, from: wordStart, to: k, matcher: tokenizer.matcher, scores: tokenizer.vocabulary.scores,
                                           unknownScore: tokenizer.huggingFaceUnknownScore, unknownID: tokenizer.unknownID, into: &nodes)
                    var previousUnknown = false
                    for node in nodes {
                        let isUnknown = node.id == tokenizer.unknownID
                        if !(isUnknown && previousUnknown) { out.append(node.id) }
                        previousUnknown = isUnknown
                    }
                    wordStart = k
                    if atEnd { break }
                    k += 3
                } else {
                    k += 1
                }
            }
        }
    }
}
