/// Unigram Viterbi (best segmentation) over UTF-8 bytes, in the two arithmetics the references
/// use. Both follow google/sentencepiece `Model::EncodeOptimized` / HF `encode_optimized`: one
/// lattice node per byte position; for each character start, every matching piece (shortest
/// first) and, if no piece covers exactly that one character, an unknown node for it; a
/// candidate replaces the stored one only when strictly greater, so on exact ties the first
/// candidate wins. The arithmetic decides which ties are exact, hence two copies.
struct Lattice {
    private var start: [Int32] = []
    private var pieceID: [Int32] = []
    private var scoreF: [Float] = []
    private var scoreD: [Double] = []

    /// A segment of the input chosen by the best path.
    struct Node {
        var id: Int32
        var start: Int   // byte offsets into the buffer passed in
        var end: Int
        var isUnknown: Bool
    }

    private mutating func reserve(_ n: Int, double: Bool) {
        if start.count < n + 1 {
            let size = max(n + 1, start.count * 2)
            start = [Int32](repeating: -1, count: size)
            pieceID = [Int32](repeating: 0, count: size)
            if double { scoreD = [Double](repeating: 0, count: size) } else { scoreF = [Float](repeating: 0, count: size) }
        }
        if double, scoreD.count < start.count { scoreD = [Double](repeating: 0, count: start.count) }
        if !double, scoreF.count < start.count { scoreF = [Float](repeating: 0, count: start.count) }
    }

    /// Hugging Face `tokenizers` Unigram: f64 path scores, every vocabulary entry matchable.
    mutating func bestPathDouble(_ text: UnsafeBufferPointer<UInt8>, from: Int, to: Int,
                                 matcher: PieceMatcher, scores: UnsafeBufferPointer<Float>,
                                 unknownScore: Double, unknownID: Int32, into nodes: inout [Node]) {
        let n = to - from
        guard n > 0 else { return }
        reserve(n, double: true)
        start.withUnsafeMutableBufferPointer { start in
        pieceID.withUnsafeMutableBufferPointer { pieceID in
        scoreD.withUnsafeMutableBufferPointer { score in
            for i in 0...n { start[i] = -1 }
            start[0] = 0
            score[0] = 0
            var pos = 0
            while pos < n {
                let here = score[pos]
                let mblen = min(UTF8Scan.oneCharLength(text[from + pos]), n - pos)
                var hasSingle = false
                matcher.forEachPrefix(text, from: from + pos, limit: to) { id, length in
                    let end = pos + length
                    let candidate = Double(scores[id]) + here
                    if start[end] == -1 || candidate > score[end] {
                        score[end] = candidate
                        start[end] = Int32(pos)
                        pieceID[end] = Int32(id)
                    }
                    if length == mblen { hasSingle = true }
                }
                if !hasSingle {
                    let end = pos + mblen
                    let candidate = unknownScore + here
                    if start[end] == -1 || candidate > score[end] {
                        score[end] = candidate
                        start[end] = Int32(pos)
                        pieceID[end] = -1
                    }
                }
                pos += mblen
            }
        }}}
        backtrack(n: n, from: from, unknownID: unknownID, into: &nodes)
    }

    /// sentencepiece ≥ 0.2.2: binary32 path scores, only pieces `allowed` (NORMAL/USER_DEFINED)
    /// matchable. `base` is the path score carried in from the previous chunk (the rounding of
    /// later sums depends on it); the final path score is returned for the next chunk.
    mutating func bestPathFloat(_ text: UnsafeBufferPointer<UInt8>, from: Int, to: Int, base: Float,
                                matcher: PieceMatcher, scores: UnsafeBufferPointer<Float>, allowed: UnsafeBufferPointer<Bool>,
                                userDefinedScore: (Int, Int) -> Float?, unknownScore: Float, unknownID: Int32,
                                into nodes: inout [Node]) -> Float {
        let n = to - from
        guard n > 0 else { return base }
        reserve(n, double: false)
        var final = base
        start.withUnsafeMutableBufferPointer { start in
        pieceID.withUnsafeMutableBufferPointer { pieceID in
        scoreF.withUnsafeMutableBufferPointer { score in
            for i in 0...n { start[i] = -1 }
            start[0] = 0
            score[0] = base
            var pos = 0
            while pos < n {
                let here = score[pos]
                let mblen = min(UTF8Scan.oneCharLength(text[from + pos]), n - pos)
                var hasSingle = false
                matcher.forEachPrefix(text, from: from + pos, limit: to) { id, length in
                    guard allowed[id] else { return }
                    let end = pos + length
                    let pieceScore = userDefinedScore(id, length) ?? scores[id]
                    let candidate: Float = pieceScore + here
                    if start[end] == -1 || candidate > score[end] {
                        score[end] = candidate
                        start[end] = Int32(pos)
                        pieceID[end] = Int32(id)
                    }
                    if length == mblen { hasSingle = true }
                }
                if !hasSingle {
                    let end = pos + mblen
                    let candidate: Float = unknownScore + here
                    if start[end] == -1 || candidate > score[end] {
                        score[end] = candidate
                        start[end] = Int32(pos)
                        pieceID[end] = -1
                    }
                }
                pos += mblen
            }
            final = score[n]
        }}}
        backtrack(n: n, from: from, unknownID: unknownID, into: &nodes)
        return final
    }

    private func backtrack(n: Int, from: Int, unknownID: Int32, into nodes: inout [Node]) {
        let first = nodes.count
        var end = n
        while end > 0 {
            let s = Int(start[end])
            let id = pieceID[end]
            nodes.append(Node(id: id < 0 ? unknownID : id, start: from + s, end: from + end, isUnknown: id < 0))
            end = s
        }
        nodes[first...].reverse()
    }
}
