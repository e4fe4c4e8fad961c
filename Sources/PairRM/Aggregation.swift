/// LLM-Blender's score and rank arithmetic, reproduced bit for bit (Formats/pairrm-model.md §4.3, §4.4).
public enum Aggregation {
    /// `get_scores_from_cmps(M, "max_logits")`: `score_i = mean_j(M[i][j] − M[j][i])` in float32,
    /// summed in NumPy's pairwise order and divided by n (the zero diagonal term included).
    public static func maxLogitsScores(_ m: [[Float]]) -> [Float] {
        let n = m.count
        return (0..<n).map { i in
            let row = (0..<n).map { j in m[i][j] - m[j][i] }
            return numpyPairwiseSum(row[...]) / Float(n)
        }
    }

    /// NumPy's `pairwise_sum` for float32 (`numpy/_core/src/umath/loops_utils.h.src`):
    /// n < 8 left to right from −0.0; n ≤ 128 eight interleaved partial sums combined as
    /// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) then the n mod 8 tail left to right; larger n split
    /// at n/2 rounded down to a multiple of 8 and recursed.
    public static func numpyPairwiseSum(_ a: ArraySlice<Float>) -> Float {
        let n = a.count, base = a.startIndex
        if n < 8 {
            var sum: Float = -0.0
            for x in a { sum += x }
            return sum
        }
        if n <= 128 {
            var r = (0..<8).map { a[base + $0] }
            var i = 8
            while i < n - n % 8 {
                for k in 0..<8 { r[k] += a[base + i + k] }
                i += 8
            }
            var sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n {
                sum += a[base + i]
                i += 1
            }
            return sum
        }
        var half = n / 2
        half -= half % 8
        return numpyPairwiseSum(a[base..<(base + half)]) + numpyPairwiseSum(a[(base + half)...])
    }

    /// `get_ranks_from_scores`: `rank_i = 1 + #{j : score_j > score_i}`: 1 is best and tied
    /// scores share the best rank of their group (e.g. [1, 1, 3]).
    public static func ranks(fromScores scores: [Float]) -> [Int] {
        scores.map { s in 1 + scores.reduce(0) { $0 + ($1 > s ? 1 : 0) } }
    }

    /// `np.argsort(ranks)` as a *stable* sort: indices by rank, ties by index. NumPy's default
    /// (quicksort kind) is not stable: on x86 with AVX2/AVX-512 it dispatches to
    /// x86-simd-sort, whose order among equal ranks is machine-dependent (e.g. [3,1,2,1,1,5,1,8]
    /// → [1,3,6,4,…] there, [1,3,4,6,…] here). Equal ranks mean equal scores, which in practice
    /// means identical candidates, so the chosen *texts* agree even when the indices differ.
    public static func stableArgsort(_ ranks: [Int]) -> [Int] {
        ranks.indices.sorted { ranks[$0] != ranks[$1] ? ranks[$0] < ranks[$1] : $0 < $1 }
    }
}
