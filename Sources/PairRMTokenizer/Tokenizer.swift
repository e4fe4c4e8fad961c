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
    /// The sentencepiece lattice score of each piece: its score for NORMAL pieces, sentencepiece's
    /// `length × max_score − 0.1` for USER_DEFINED ones, NaN for pieces it may not use.
    let sentencePieceScores: [Float]
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

    /// Builds the lookup tables in three phases: the unknown piece, the per-piece tables
    /// (scores, bytes), the added tokens (splitters, prefix ids).
    public init(vocabulary: VocabularyView, settings: TokenizerSettings = .debertaV3) throws {
        self.vocabulary = vocabulary
        self.settings = settings
        let unk = try Self.unknownPiece(vocabulary: vocabulary, settings: settings)
        unknownID = Int32(unk)
        charsmap = try Charsmap(blob: vocabulary.charsmap)
        sentencePieceNormalizer = SentencePieceNormalizer(charsmap: charsmap, settings: settings)
        huggingFaceNormalizer = HuggingFaceNormalizer(charsmap: charsmap)
        let matcher = try PieceMatcher(vocabulary: vocabulary)
        self.matcher = matcher

        let pieces = Self.pieceTables(vocabulary: vocabulary, unknownID: unk)
        sentencePieceMaxScore = pieces.maxNormalScore
        sentencePieceScores = pieces.sentencePieceScores
        sentencePieceUnknownScore = pieces.sentencePieceUnknownScore
        huggingFaceUnknownScore = pieces.huggingFaceUnknownScore
        byteIDs = pieces.byteIDs
        spaceIsBoundary = pieces.spaceIsBoundary

        let added = try Self.addedTokenTables(vocabulary: vocabulary)
        rawTokenSplitter = AddedTokenSplitter(tokens: added.raw)
        normalizedTokenSplitter = AddedTokenSplitter(tokens: added.normalized)
        contentTokenSplitter = AddedTokenSplitter(tokens: added.content)
        addedTokenByID = added.byID
        prefixIDs = added.prefixes
        func specialID(_ name: String, _ fallback: Int32) -> Int32 {
            if let token = vocabulary.addedTokens.first(where: { $0.content == name }) { return Int32(token.id) }
            let bytes = Array(name.utf8)
            return bytes.withUnsafeBufferPointer { matcher.id(of: $0) }.map(Int32.init) ?? fallback
        }
        classifierID = specialID("[CLS]", 1)
        separatorID = specialID("[SEP]", 2)
    }

    /// The settings' unknown id when given (checked), else the first piece of type UNKNOWN.
    static func unknownPiece(vocabulary: VocabularyView, settings: TokenizerSettings) throws -> Int {
        let count = vocabulary.pieceCount
        guard count > 0 else {
            throw TokenizerError(.missing, field: "POFS", problem: "the vocabulary has no pieces",
                                 fix: "convert from an spm.model with its pieces")
        }
        if let explicit = settings.unknownID {
            guard explicit >= 0, explicit < count else {
                throw TokenizerError(.invalidArgument, field: "settings.unknownID",
                                     problem: "\(explicit) is not a piece id (0..<\(count))",
                                     fix: "pass the id of the model's UNKNOWN piece, or nil to find it")
            }
            return explicit
        }
        guard let found = (0..<count).first(where: { vocabulary.types[$0] == PieceType.unknown.rawValue }) else {
            throw TokenizerError(.missing, field: "PTYP", problem: "no piece has type UNKNOWN (2)",
                                 fix: "the spm.model must declare its [UNK] piece; re-convert it")
        }
        return found
    }

    /// Per-piece tables of both normalizations' Viterbi (Formats/tokenizer.md §4).
    struct PieceTables {
        var sentencePieceScores: [Float]
        var maxNormalScore: Float
        var sentencePieceUnknownScore: Float
        var huggingFaceUnknownScore: Double
        var byteIDs: [Int32]
        var spaceIsBoundary: Bool
    }

    static func pieceTables(vocabulary: VocabularyView, unknownID unk: Int) -> PieceTables {
        let count = vocabulary.pieceCount
        var matchable = [Bool](repeating: false, count: count)
        var spScores = [Float](repeating: .nan, count: count)
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
            if type == PieceType.byte.rawValue, end - start == 6, let value = parseBytePiece(pieceBytes, start) {
                bytes[value] = Int32(id)
            }
        }
        if minNormal > maxNormal { minNormal = 0; maxNormal = 0 }
        for id in 0..<count where matchable[id] {
            // sentencepiece: USER_DEFINED pieces score length × max_score − 0.1 (always win).
            let length = Int(vocabulary.pieceOffsets[id + 1] - vocabulary.pieceOffsets[id])
            spScores[id] = vocabulary.types[id] == PieceType.userDefined.rawValue
                ? Float(length) * maxNormal - 0.1 : vocabulary.scores[id]
        }
        // sentencepiece: `min_score_ - kUnkPenalty` stored as float; HF: f64 over all entries.
        return PieceTables(sentencePieceScores: spScores, maxNormalScore: maxNormal, sentencePieceUnknownScore: minNormal - 10,
                           huggingFaceUnknownScore: minAll - 10, byteIDs: bytes, spaceIsBoundary: spaceIsBoundary)
    }

    /// The added tokens sorted into the splitters' passes (raw, normalized, normalized without
    /// the PairRM prefixes) and the prefix ids.
    struct AddedTokenTables {
        var raw: [AddedTokenSplitter.Token] = []
        var normalized: [AddedTokenSplitter.Token] = []
        var content: [AddedTokenSplitter.Token] = []
        var byID: [Int32: AddedToken] = [:]
        var prefixes: [String: Int32] = [:]
    }

    static func addedTokenTables(vocabulary: VocabularyView) throws -> AddedTokenTables {
        var tables = AddedTokenTables()
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
            let isPrefix = prefixStrings.contains(token.content)
            if isPrefix { tables.prefixes[token.content] = Int32(token.id) }
            if token.normalized {
                tables.normalized.append(entry)
                if !isPrefix { tables.content.append(entry) }
            } else {
                tables.raw.append(entry)
            }
            if tables.byID[Int32(token.id)] == nil { tables.byID[Int32(token.id)] = token }
        }
        return tables
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

    /// The HF fast pipeline (Formats/tokenizer.md §6.2). With `leadingPrefix`, `p` starts with that
    /// normalized added token's content, which is matched once at the start of the first segment
    /// and never again (the `encodePair` guarantee).
    func encodeHuggingFace(_ p: UnsafeBufferPointer<UInt8>, leadingPrefix: (content: [UInt8], id: Int32)?,
                           contentOnly: Bool, into out: inout [Int32]) {
        var rawPieces: [AddedTokenSplitter.Piece] = []
        rawTokenSplitter.split(p, from: 0, to: p.count, into: &rawPieces)
        var normalized = ScratchBuffer<UInt8>(capacity: p.count + p.count / 4 + 16)
        var ids = ScratchBuffer<Int32>(capacity: p.count / 2 + 16)
        var word = ScratchBuffer<UInt8>(capacity: 256)
        defer { normalized.free(); ids.free(); word.free() }
        var pieces: [AddedTokenSplitter.Piece] = []
        let lattice = Lattice()
        var pendingPrefix = leadingPrefix
        let splitter = contentOnly || leadingPrefix != nil ? contentTokenSplitter : normalizedTokenSplitter
        do {
            let scores = vocabulary.scores.baseAddress!
            for raw in rawPieces {
                if let id = raw.tokenID {
                    pendingPrefix = nil
                    ids.append(id)
                    continue
                }
                normalized.removeAll()
                huggingFaceNormalizer.normalize(UnsafeBufferPointer(rebasing: p[raw.start..<raw.end]), into: &normalized)
                let n = normalized.buffer
                var from = 0
                if let prefix = pendingPrefix {
                    pendingPrefix = nil
                    if n.count >= prefix.content.count, prefix.content.withUnsafeBufferPointer({ c in
                        (0..<c.count).allSatisfy { n[$0] == c[$0] }
                    }) {
                        ids.append(prefix.id)
                        from = prefix.content.count
                    }
                }
                if splitter.isEmpty || !splitter.mayOccur(in: n, from: from, to: n.count) {
                    encodeWords(n, from: from, to: n.count, lattice: lattice, word: &word, scores: scores, into: &ids)
                    continue
                }
                pieces.removeAll(keepingCapacity: true)
                splitter.split(n, from: from, to: n.count, into: &pieces)
                for piece in pieces {
                    if let id = piece.tokenID {
                        ids.append(id)
                    } else {
                        encodeWords(n, from: piece.start, to: piece.end, lattice: lattice, word: &word, scores: scores, into: &ids)
                    }
                }
            }
        }
        out.append(contentsOf: ids.buffer)
    }

    /// Metaspace (replacement "▁", prepend "always", split) on `n[from..<to]`: ' ' → '▁', prepend
    /// '▁' unless present, split before every '▁'; then each word through the f64 lattice,
    /// fusing unknowns (HF mode).
    @inline(__always)
    private func encodeWords(_ n: UnsafeBufferPointer<UInt8>, from: Int, to: Int, lattice: Lattice,
                             word: inout ScratchBuffer<UInt8>, scores: UnsafePointer<Float>, into ids: inout ScratchBuffer<Int32>) {
        guard to > from else { return }
        let text = n.baseAddress!
        let matcher = self.matcher, unknownScore = huggingFaceUnknownScore, unknownID = self.unknownID
        @inline(__always) func flush() {
            lattice.encodeDouble(word.base, count: word.count, matcher: matcher, scores: scores,
                                 unknownScore: unknownScore, unknownID: unknownID, into: &ids)
            word.removeAll()
        }
        word.removeAll()
        word.reserve(to - from + 3)
        var k = from
        // The first word gets the prepended '▁' unless the text starts with one (or a space).
        if !(text[k] == 0x20 || (to - k >= 3 && text[k] == 0xE2 && text[k + 1] == 0x96 && text[k + 2] == 0x81)) {
            word.unsafeAppend(0xE2); word.unsafeAppend(0x96); word.unsafeAppend(0x81)
        }
        while k < to {
            let b = text[k]
            if b == 0x20 {
                if word.count > 0 { flush() }
                word.reserve(3)
                word.unsafeAppend(0xE2); word.unsafeAppend(0x96); word.unsafeAppend(0x81)
                k += 1
            } else if b == 0xE2, to - k >= 3, text[k + 1] == 0x96, text[k + 2] == 0x81 {
                if word.count > 0 { flush() }
                word.reserve(3)
                word.unsafeAppend(0xE2); word.unsafeAppend(0x96); word.unsafeAppend(0x81)
                k += 3
            } else {
                word.append(b)
                k += 1
            }
        }
        if word.count > 0 { flush() }
    }

    /// sentencepiece-exact encoding (Formats/tokenizer.md §3–§5).
    func encodeSentencePiece(_ p: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var normalized = ScratchBuffer<UInt8>(capacity: p.count + p.count / 4 + 16)
        var ids = ScratchBuffer<Int32>(capacity: p.count / 2 + 16)
        defer { normalized.free(); ids.free() }
        sentencePieceNormalizer.normalize(p, into: &normalized)
        guard normalized.count > 0 else { return [] }
        let lattice = Lattice()
        let n = normalized.base, count = normalized.count
        let matcher = self.matcher, unknownScore = sentencePieceUnknownScore, unknownID = self.unknownID
        sentencePieceScores.withUnsafeBufferPointer { scores in
        byteIDs.withUnsafeBufferPointer { byteIDs in
            let scores = scores.baseAddress!
            let fallback: UnsafePointer<Int32>? = settings.byteFallback ? byteIDs.baseAddress! : nil
            var base: Float = 0
            var chunkStart = 0
            @inline(__always) func run(_ to: Int) {
                base = lattice.encodeFloat(n + chunkStart, count: to - chunkStart, base: base, matcher: matcher, scores: scores,
                                           unknownScore: unknownScore, unknownID: unknownID, byteIDs: fallback, into: &ids)
                chunkStart = to
            }
            if spaceIsBoundary {
                var k = 1
                while k + 2 < count {
                    if n[k] == 0xE2, n[k + 1] == 0x96, n[k + 2] == 0x81 { run(k); k += 3 } else { k += 1 }
                }
            }
            run(count)
        }}
        return Array(ids.buffer)
    }
}

