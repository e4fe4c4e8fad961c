import PairRMFormat

/// Splits text around added tokens the way HF `tokenizers` does (`AddedVocabulary`, an
/// Aho–Corasick automaton with `MatchKind::LeftmostLongest`): the match starting leftmost wins,
/// and among matches starting there the longest. Token contents are compared as bytes.
struct AddedTokenSplitter: Sendable {
    struct Token: Sendable {
        var id: Int32
        var content: [UInt8]
        var lstrip: Bool
        var rstrip: Bool
    }

    /// A piece of the input: either plain text `start..<end` or an added token covering it.
    struct Piece: Equatable {
        var start: Int
        var end: Int
        var tokenID: Int32?   // nil = plain text
    }

    private let tokens: [Token]
    /// Tokens indexed by first byte, so the scan skips positions no token can start at.
    private let byFirstByte: [[Int]]
    /// Whether some token starts with the byte (the scan's fast skip).
    private let isFirstByte: [Bool]

    init(tokens: [Token]) {
        self.tokens = tokens
        var index = [[Int]](repeating: [], count: 256)
        for (k, token) in tokens.enumerated() where !token.content.isEmpty {
            index[Int(token.content[0])].append(k)
        }
        byFirstByte = index
        isFirstByte = index.map { !$0.isEmpty }
    }

    /// False when no token can start anywhere in `text[from..<to]` (so `split` would return the
    /// whole range as plain text).
    func mayOccur(in text: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Bool {
        isFirstByte.withUnsafeBufferPointer { first in
            var i = from
            while i < to {
                if first[Int(text[i])] { return true }
                i += 1
            }
            return false
        }
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Splits `text[from..<to]`; appends the pieces (plain pieces may be empty-free; no empty ones).
    func split(_ text: UnsafeBufferPointer<UInt8>, from: Int, to: Int, into pieces: inout [Piece]) {
        var plainStart = from
        var i = from
        while i < to {
            if !isFirstByte.withUnsafeBufferPointer({ $0[Int(text[i])] }) { i += 1; continue }
            let candidates = byFirstByte[Int(text[i])]
            var best = -1, bestLength = 0
            for k in candidates {
                let content = tokens[k].content
                let n = content.count
                guard n > bestLength, i + n <= to else { continue }
                var j = 1
                while j < n, text[i + j] == content[j] { j += 1 }
                if j == n { best = k; bestLength = n }
            }
            guard best >= 0 else { i += 1; continue }
            var start = i, end = i + bestLength
            // lstrip / rstrip: the token swallows adjacent whitespace (Unicode White_Space).
            if tokens[best].lstrip {
                while start > plainStart {
                    var s = start - 1
                    while s > plainStart, text[s] & 0xC0 == 0x80 { s -= 1 }
                    guard let (c, _) = UTF8Scan.decode(text, at: s), UTF8Scan.isWhiteSpace(c) else { break }
                    start = s
                }
            }
            if tokens[best].rstrip {
                while end < to, let (c, len) = UTF8Scan.decode(text, at: end), UTF8Scan.isWhiteSpace(c) { end += len }
            }
            if start > plainStart { pieces.append(Piece(start: plainStart, end: start, tokenID: nil)) }
            pieces.append(Piece(start: start, end: end, tokenID: tokens[best].id))
            i = end
            plainStart = end
        }
        if to > plainStart { pieces.append(Piece(start: plainStart, end: to, tokenID: nil)) }
    }
}
