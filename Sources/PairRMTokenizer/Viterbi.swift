/// Unigram Viterbi (best segmentation) over UTF-8 bytes, in the two arithmetics the references
/// use. Both follow google/sentencepiece `Model::EncodeOptimized` / HF `encode_optimized`: one
/// lattice node per byte position; for each character start, every matching piece (shortest
/// first) and, if no piece covers exactly that one character, an unknown node for it; a
/// candidate replaces the stored one only when strictly greater, so on exact ties the first
/// candidate wins. The arithmetic decides which ties are exact, hence two copies.
///
/// Per-call scratch: the arrays grow to the longest word seen and are reused for every word.
final class Lattice {
    private var capacity = 0
    private var start: UnsafeMutablePointer<Int32>
    private var pieceID: UnsafeMutablePointer<Int32>
    private var scoreF: UnsafeMutablePointer<Float>
    private var scoreD: UnsafeMutablePointer<Double>
    /// Node end positions of the last best path, last node first.
    private var path: UnsafeMutablePointer<Int32>

    /// A segment of the input chosen by the best path.
    struct Node {
        var id: Int32
        var start: Int   // byte offsets into the buffer passed in
        var end: Int
        var isUnknown: Bool
    }

    init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        start = .allocate(capacity: self.capacity + 1)
        pieceID = .allocate(capacity: self.capacity + 1)
        scoreF = .allocate(capacity: self.capacity + 1)
        scoreD = .allocate(capacity: self.capacity + 1)
        path = .allocate(capacity: self.capacity + 1)
    }

    deinit {
        start.deallocate(); pieceID.deallocate(); scoreF.deallocate(); scoreD.deallocate(); path.deallocate()
    }

    @inline(__always) private func reserve(_ n: Int) {
        if n > capacity { grow(n) }
    }

    @inline(never) private func grow(_ n: Int) {
        let size = max(n, capacity * 2)
        start.deallocate(); pieceID.deallocate(); scoreF.deallocate(); scoreD.deallocate(); path.deallocate()
        start = .allocate(capacity: size + 1)
        pieceID = .allocate(capacity: size + 1)
        scoreF = .allocate(capacity: size + 1)
        scoreD = .allocate(capacity: size + 1)
        path = .allocate(capacity: size + 1)
        capacity = size
    }

    /// Hugging Face `tokenizers` Unigram on `text[0..<n]`: f64 path scores, every vocabulary
    /// entry matchable; appends the ids with runs of unknown nodes fused into one `unknownID`.
    @inline(__always)
    func encodeDouble(_ text: UnsafePointer<UInt8>, count n: Int, matcher: PieceMatcher, scores: UnsafePointer<Float>,
                      unknownScore: Double, unknownID: Int32, into out: inout ScratchBuffer<Int32>) {
        guard n > 0 else { return }
        reserve(n)
        let start = self.start, pieceID = self.pieceID, score = self.scoreD
        for i in 0...n { start[i] = -1 }
        start[0] = 0
        score[0] = 0
        var pos = 0
        while pos < n {
            let here = score[pos]
            let mblen = min(UTF8Scan.oneCharLength(text[pos]), n &- pos)
            var hasSingle = false
            matcher.forEachPrefix(text + pos, count: n &- pos) { id, length in
                let end = pos &+ length
                let candidate = Double(scores[id]) + here
                if start[end] == -1 || candidate > score[end] {
                    score[end] = candidate
                    start[end] = Int32(truncatingIfNeeded: pos)
                    pieceID[end] = Int32(truncatingIfNeeded: id)
                }
                if length == mblen { hasSingle = true }
            }
            if !hasSingle {
                let end = pos &+ mblen
                let candidate = unknownScore + here
                if start[end] == -1 || candidate > score[end] {
                    score[end] = candidate
                    start[end] = Int32(truncatingIfNeeded: pos)
                    pieceID[end] = -1
                }
            }
            pos &+= mblen
        }
        let nodes = backtrack(n)
        out.reserve(nodes)
        var previousUnknown = false
        var k = nodes - 1
        while k >= 0 {
            let id = pieceID[Int(path[k])]
            if id < 0 {
                if !previousUnknown { out.unsafeAppend(unknownID) }
                previousUnknown = true
            } else {
                out.unsafeAppend(id)
                previousUnknown = id == unknownID
            }
            k -= 1
        }
    }

    /// sentencepiece ≥ 0.2.2 on `text[0..<n]`: binary32 path scores; `scores` holds each piece's
    /// lattice score or NaN for pieces the lattice may not use. `base` is the path score carried
    /// in from the previous chunk (the rounding of later sums depends on it); the final path
    /// score is returned. Appends ids; an unknown node becomes its bytes' `byteIDs` (byte
    /// fallback) or one `unknownID` per run.
    @inline(__always)
    func encodeFloat(_ text: UnsafePointer<UInt8>, count n: Int, base: Float, matcher: PieceMatcher,
                     scores: UnsafePointer<Float>, unknownScore: Float, unknownID: Int32,
                     byteIDs: UnsafePointer<Int32>?, into out: inout ScratchBuffer<Int32>) -> Float {
        guard n > 0 else { return base }
        reserve(n)
        let start = self.start, pieceID = self.pieceID, score = self.scoreF
        for i in 0...n { start[i] = -1 }
        start[0] = 0
        score[0] = base
        var pos = 0
        while pos < n {
            let here = score[pos]
            let mblen = min(UTF8Scan.oneCharLength(text[pos]), n &- pos)
            var hasSingle = false
            matcher.forEachPrefix(text + pos, count: n &- pos) { id, length in
                let pieceScore = scores[id]
                guard !pieceScore.isNaN else { return }
                let end = pos &+ length
                let candidate: Float = pieceScore + here
                if start[end] == -1 || candidate > score[end] {
                    score[end] = candidate
                    start[end] = Int32(truncatingIfNeeded: pos)
                    pieceID[end] = Int32(truncatingIfNeeded: id)
                }
                if length == mblen { hasSingle = true }
            }
            if !hasSingle {
                let end = pos &+ mblen
                let candidate: Float = unknownScore + here
                if start[end] == -1 || candidate > score[end] {
                    score[end] = candidate
                    start[end] = Int32(truncatingIfNeeded: pos)
                    pieceID[end] = -1
                }
            }
            pos &+= mblen
        }
        let final = score[n]
        let nodes = backtrack(n)
        var k = nodes - 1
        while k >= 0 {
            let end = Int(path[k])
            let id = pieceID[end]
            if id >= 0 {
                out.append(id)
            } else if let byteIDs {
                // Each unknown node is one character; its UTF-8 bytes become <0xXX> pieces.
                for b in Int(start[end])..<end { out.append(byteIDs[Int(text[b])]) }
            } else if out.last != unknownID {
                // Without byte fallback sentencepiece merges adjacent unknown pieces.
                out.append(unknownID)
            }
            k -= 1
        }
        return final
    }

    /// Fills `path` with the best path's node end positions (last first); returns their count.
    @inline(__always)
    private func backtrack(_ n: Int) -> Int {
        var count = 0
        var end = n
        while end > 0 {
            path[count] = Int32(truncatingIfNeeded: end)
            count &+= 1
            end = Int(start[end])
        }
        return count
    }

    /// The nodes of the best path of the last `encodeDouble`/`encodeFloat` over `n` bytes
    /// (tests and inspection).
    func nodes(_ n: Int, unknownID: Int32) -> [Node] {
        guard n > 0 else { return [] }
        let count = backtrack(n)
        return (0..<count).reversed().map { k in
            let end = Int(path[k]), id = pieceID[end]
            return Node(id: id < 0 ? unknownID : id, start: Int(start[end]), end: end, isUnknown: id < 0)
        }
    }
}
