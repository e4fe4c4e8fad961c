/// How `bestOfN` / `worstOfN` choose (Blender's `pairrm_cmp_type`).
public enum SelectionStrategy: Sendable, Equatable {
    /// Blender's default: ONE pass of bubble sort over a start permutation, carrying the
    /// winner (2(n−1) forward passes). At each step `d = L(x,cur,nxt) + (−L(x,nxt,cur))`
    /// (float32); best: `d > 0` carries `cur`, otherwise (ties included) `nxt`; worst: `d < 0`
    /// carries `cur`, otherwise `nxt`.
    ///
    /// Blender draws the start order from `torch.randperm(n)` (global torch RNG); pass
    /// `startOrder` (a permutation of 0..<n) to reproduce a run, or nil for a fresh random
    /// permutation. The start order matters only when preferences are intransitive.
    case bubble(startOrder: [Int]? = nil)
    /// `rank` (full matrix, n(n−1) forwards), then `argsort(ranks)` (worst: `argsort(−ranks)`);
    /// we sort stably — see `Aggregation.stableArgsort` for NumPy's machine-dependent order
    /// among tied ranks.
    case full

    public static var bubble: SelectionStrategy { .bubble(startOrder: nil) }
}

/// The outcome of `bestOfN` / `worstOfN`.
public struct Selection: Sendable, Equatable {
    /// Index of the chosen candidate.
    public var index: Int
    /// Blender's `return_all=True` order, as indices: `bubble` → the chosen one, then the
    /// eliminated one of each step in elimination order (not a sorted ranking); `full` → the
    /// whole argsort order (best first for `bestOfN`, worst first for `worstOfN`).
    public var order: [Int]
    /// `bubble` only: the start permutation used.
    public var startOrder: [Int]?
    public var forwardPasses: Int

    public init(index: Int, order: [Int], startOrder: [Int]?, forwardPasses: Int) {
        self.index = index
        self.order = order
        self.startOrder = startOrder
        self.forwardPasses = forwardPasses
    }

    /// The candidates in `order` (Blender's `return_all=True` result).
    public func ordered<T>(_ candidates: [T]) -> [T] { order.map { candidates[$0] } }
}

/// What a generator closure of `bestOfN(_:n:generate:)` is asked for.
public struct GenerationRequest: Sendable {
    /// The text to continue: `instruction + "\n" + prompt` when there is an instruction, else
    /// `prompt` (Blender's `n_generate`). The ranker itself sees `instruction + prompt`.
    public var text: String
    public var prompt: String
    public var instruction: String
    /// 0..<n.
    public var sampleIndex: Int
}

extension PairRanker {
    /// Blender's `get_best_of_n([prompt], [candidates], instructions: [instruction], pairrm_cmp_type:)`.
    /// n = 1 returns index 0 without a forward pass.
    public func bestOfN(_ prompt: String, _ candidates: [String], instruction: String = "",
                        strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil) throws -> Selection {
        try select(prompt, candidates, instruction: instruction, strategy: strategy, worst: false, options: options)
    }

    /// Blender's `get_worst_of_n`: the mirror image of `bestOfN`.
    public func worstOfN(_ prompt: String, _ candidates: [String], instruction: String = "",
                         strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil) throws -> Selection {
        try select(prompt, candidates, instruction: instruction, strategy: strategy, worst: true, options: options)
    }

    /// Blender's `best_of_n_generate` for any LLM: `generate` is called n times, one after the
    /// other (samples 0..<n), then `bestOfN` picks among the samples.
    public func bestOfN(_ prompt: String, n: Int, instruction: String = "", strategy: SelectionStrategy = .bubble,
                        options: RankerOptions? = nil,
                        generate: (GenerationRequest) async throws -> String) async throws -> (candidates: [String], selection: Selection) {
        guard n >= 1 else {
            throw PairRMError(.invalidArgument, field: "n", problem: "\(n) is not ≥ 1", fix: "ask for at least one sample")
        }
        let text = instruction.isEmpty ? prompt : instruction + "\n" + prompt
        var samples: [String] = []
        for index in 0..<n {
            try Task.checkCancellation()
            try (options ?? defaults).cancellation?.check()
            samples.append(try await generate(GenerationRequest(text: text, prompt: prompt, instruction: instruction, sampleIndex: index)))
        }
        let candidates = samples
        let selection = try await runDetached(options: options) { options in
            try self.bestOfN(prompt, candidates, instruction: instruction, strategy: strategy, options: options)
        }
        return (samples, selection)
    }

    func select(_ prompt: String, _ candidates: [String], instruction: String, strategy: SelectionStrategy, worst: Bool,
                options: RankerOptions?) throws -> Selection {
        let options = try resolve(options)
        try Self.checkCandidates(candidates)
        let n = candidates.count
        switch strategy {
        case .full:
            if n == 1 { return Selection(index: 0, order: [0], startOrder: nil, forwardPasses: 0) }
            let ranking = try rank(prompt, candidates, instruction: instruction, strategy: .fullMatrix, options: options)
            let order = Aggregation.stableArgsort(worst ? ranking.ranks.map { -$0 } : ranking.ranks)
            return Selection(index: order[0], order: order, startOrder: nil, forwardPasses: ranking.forwardPasses)
        case .bubble(let given):
            let start: [Int]
            if let given {
                guard given.count == n, Set(given) == Set(0..<n) else {
                    throw PairRMError(.invalidArgument, field: "startOrder", problem: "\(given) is not a permutation of 0..<\(n)",
                                      fix: "pass each candidate index exactly once, or nil for a random order")
                }
                start = given
            } else {
                start = Array(0..<n).shuffled()
            }
            if n == 1 { return Selection(index: 0, order: [0], startOrder: start, forwardPasses: 0) }
            let input = try prepare(prompt: prompt, instruction: instruction, candidates: candidates, options: options)
            var inner = options
            inner.batchSize = min(2, options.batchSize)
            var carried = start[0]
            var eliminated: [Int] = []
            for j in 1..<n {
                let cur = carried, nxt = start[j]
                let l = try logits(input, pairs: [(cur, nxt), (nxt, cur)], options: inner)
                let d = l[0] + (-l[1])
                let keepCurrent = worst ? d < 0 : d > 0
                carried = keepCurrent ? cur : nxt
                eliminated.append(keepCurrent ? nxt : cur)
            }
            return Selection(index: carried, order: [carried] + eliminated, startOrder: start, forwardPasses: 2 * (n - 1))
        }
    }
}
