/// How `rank` orders n candidates.
public enum RankStrategy: String, Sendable, CaseIterable {
    /// LLM-Blender's `rank`: every ordered pair, `M[i][j] = L(x, c_i, c_j)` — n(n−1) forward
    /// passes — aggregated with `max_logits` (`score_i = mean_j(M[i][j] − M[j][i])`). Exact
    /// parity, scores included.
    case fullMatrix = "full"
    /// Ours: a merge sort whose comparator is the order-averaged `[A,B]+[B,A]` logit
    /// `d(i, j) = L(x,c_i,c_j) − L(x,c_j,c_i)` (2 forward passes per comparison, at most
    /// n⌈log₂n⌉ − 2^⌈log₂n⌉ + 1 comparisons: n = 8 → ≤ 34 forwards instead of 56, n = 16 → ≤ 98
    /// instead of 240, n = 64 → ≤ 642 instead of 4032).
    ///
    /// Trade-off: it only sees the pairs the sort visits, so there are **no scores** (`scores`
    /// is nil), and when PairRM's preferences are intransitive (they can be: see bubble
    /// results that depend on the start order) the order can differ from `fullMatrix`, whose
    /// mean over all opponents smooths cycles out. With consistent preferences both agree on
    /// the order. Ties: only candidates whose direct comparison is exactly 0 (in practice
    /// identical texts, which are detected without a forward pass) share a rank.
    case mergeSort = "merge-sort"
}

/// Scores and ranks of one candidate list.
public struct Ranking: Sendable, Equatable {
    /// Higher is better. `fullMatrix`: Blender's float32 `max_logits` scores (Blender's
    /// `rank(return_scores=True)`); `rankWithReference`: `−compare(x, ref, c)`; `mergeSort`: nil.
    public var scores: [Float]?
    /// 1 = best; ties share the best rank of their group (Blender's `rank(return_scores=False)`).
    public var ranks: [Int]
    /// Forward passes this call ran.
    public var forwardPasses: Int
    /// `fullMatrix` only: `matrix[i][j] = L(x, c_i, c_j)`, zero diagonal.
    public var matrix: [[Float]]?
    /// `rankWithReference` only: the reference text the candidates were compared with.
    public var reference: String?

    public init(scores: [Float]?, ranks: [Int], forwardPasses: Int, matrix: [[Float]]? = nil, reference: String? = nil) {
        self.scores = scores
        self.ranks = ranks
        self.forwardPasses = forwardPasses
        self.matrix = matrix
        self.reference = reference
    }

    /// Candidate indices best first (stable among ties).
    public var order: [Int] { Aggregation.stableArgsort(ranks) }
}

/// How `rankWithReference` picks each input's reference (Blender's `ref_mode`).
public enum ReferenceMode: String, Sendable, CaseIterable {
    /// `max(cands, key=len)`: longest by Python `len` (Unicode code points), first on ties.
    case longest
    /// `min(cands, key=len)`, first on ties.
    case shortest
    /// `sorted(cands, key=len)[n // 2]` (stable sort).
    case medianLength = "median_length"
    case first
    case last

    /// The index of the reference among `candidates` (non-empty).
    public func pick(_ candidates: [String]) -> Int {
        let lengths = candidates.map { $0.unicodeScalars.count }
        switch self {
        case .longest:
            var best = 0
            for i in lengths.indices where lengths[i] > lengths[best] { best = i }
            return best
        case .shortest:
            var best = 0
            for i in lengths.indices where lengths[i] < lengths[best] { best = i }
            return best
        case .medianLength:
            let sorted = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
            return sorted[candidates.count / 2]
        case .first: return 0
        case .last: return candidates.count - 1
        }
    }
}

extension PairRanker {
    static func checkCandidates(_ candidates: [String]) throws {
        guard !candidates.isEmpty else {
            throw PairRMError(.invalidArgument, field: "candidates", problem: "the candidate list is empty",
                              fix: "pass at least one candidate (Blender asserts n ≥ 1)")
        }
    }

    /// Blender's `rank([prompt], [candidates], instructions: [instruction])`; Blender's
    /// `return_scores=True` is `.scores`, `False` is `.ranks` (both are always returned).
    /// n = 1 runs no forward pass (score 0, rank 1), like Blender.
    public func rank(_ prompt: String, _ candidates: [String], instruction: String = "",
                     strategy: RankStrategy = .fullMatrix, options: RankerOptions? = nil) throws -> Ranking {
        let options = try resolve(options)
        try Self.checkCandidates(candidates)
        let n = candidates.count
        let input = try prepare(prompt: prompt, instruction: instruction, candidates: candidates, options: options)
        if n == 1 {
            return Ranking(scores: strategy == .fullMatrix ? [0] : nil, ranks: [1], forwardPasses: 0,
                           matrix: strategy == .fullMatrix ? [[0]] : nil)
        }
        switch strategy {
        case .fullMatrix:
            var pairs: [(Int, Int)] = []
            for i in 0..<n { for j in 0..<n where i != j { pairs.append((i, j)) } }
            let values = try logits(input, pairs: pairs, options: options)
            var matrix = [[Float]](repeating: [Float](repeating: 0, count: n), count: n)
            for (k, (i, j)) in pairs.enumerated() { matrix[i][j] = values[k] }
            let scores = Aggregation.maxLogitsScores(matrix)
            return Ranking(scores: scores, ranks: Aggregation.ranks(fromScores: scores), forwardPasses: pairs.count, matrix: matrix)
        case .mergeSort:
            return try mergeSortRanking(input, candidates: candidates, options: options)
        }
    }

    /// Bottom-up merge sort, best first; the merges of one level run in parallel.
    private func mergeSortRanking(_ input: PreparedInput, candidates: [String], options: RankerOptions) throws -> Ranking {
        let n = candidates.count
        final class Counter: @unchecked Sendable { let lock = Lock(); var forwards = 0; var ties: Set<[Int]> = [] }
        let counter = Counter()
        var inner = options
        inner.batchSize = min(2, options.batchSize)
        // d(i, j) > 0: i before j; identical texts compare as an exact 0 without a forward.
        let compare: (Int, Int) throws -> Float = { i, j in
            if candidates[i] == candidates[j] {
                counter.lock.withLock { _ = counter.ties.insert([min(i, j), max(i, j)]) }
                return 0
            }
            let l = try self.logits(input, pairs: [(i, j), (j, i)], options: inner)
            let d = l[0] - l[1]
            counter.lock.withLock {
                counter.forwards += 2
                if d == 0 { counter.ties.insert([min(i, j), max(i, j)]) }
            }
            return d
        }
        var runs: [[Int]] = (0..<n).map { [$0] }
        while runs.count > 1 {
            let pairsOfRuns = stride(from: 0, to: runs.count, by: 2).map { k in (runs[k], k + 1 < runs.count ? runs[k + 1] : []) }
            runs = try parallelMap(pairsOfRuns.count, workers: max(1, options.batchSize / 2)) { k in
                let (left, right) = pairsOfRuns[k]
                if right.isEmpty { return left }
                var merged: [Int] = []
                merged.reserveCapacity(left.count + right.count)
                var i = 0, j = 0
                while i < left.count, j < right.count {
                    // Stable: the left run wins ties.
                    if try compare(left[i], right[j]) >= 0 { merged.append(left[i]); i += 1 } else { merged.append(right[j]); j += 1 }
                }
                merged += left[i...]
                merged += right[j...]
                return merged
            }
        }
        let order = runs[0]
        var ranks = [Int](repeating: 0, count: n)
        for (position, index) in order.enumerated() {
            if position > 0, counter.ties.contains([min(index, order[position - 1]), max(index, order[position - 1])]) {
                ranks[index] = ranks[order[position - 1]]
            } else {
                ranks[index] = position + 1
            }
        }
        return Ranking(scores: nil, ranks: ranks, forwardPasses: counter.forwards)
    }

    /// Blender's `rank_with_ref`: each candidate is compared with a reference in the default
    /// `[A,B]+[B,A]` mode, `score_j = −compare(x, ref, c_j)` (higher = better than the
    /// reference; the reference itself scores −0.0), then ranked like `rank`. `reference`
    /// overrides `refMode` (Blender's `ref_candidates`). 2n forward passes (a candidate equal
    /// to the reference needs none: both orders are the same input, the logit is exactly 0).
    public func rankWithReference(_ prompt: String, _ candidates: [String], instruction: String = "",
                                  refMode: ReferenceMode = .longest, reference: String? = nil,
                                  options: RankerOptions? = nil) throws -> Ranking {
        let options = try resolve(options)
        try Self.checkCandidates(candidates)
        let ref = reference ?? candidates[refMode.pick(candidates)]
        let all = [ref] + candidates
        let input = try prepare(prompt: prompt, instruction: instruction, candidates: all, options: options)
        var pairs: [(Int, Int)] = []
        var needed: [Int] = []
        for j in 1...candidates.count where candidates[j - 1] != ref {
            pairs += [(0, j), (j, 0)]
            needed.append(j)
        }
        let values = try logits(input, pairs: pairs, options: options)
        var scores = [Float](repeating: -0.0, count: candidates.count)
        for (k, j) in needed.enumerated() {
            let s = Aggregation.maxLogitsScores([[0, values[2 * k]], [values[2 * k + 1], 0]])
            scores[j - 1] = -(s[0] - s[1])
        }
        return Ranking(scores: scores, ranks: Aggregation.ranks(fromScores: scores), forwardPasses: pairs.count, reference: ref)
    }
}
