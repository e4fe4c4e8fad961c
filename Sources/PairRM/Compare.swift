/// Which orders `compare` runs (Blender's `mode`).
public enum CompareMode: String, Sendable, CaseIterable {
    /// `"[A,B]"`: one forward, `logit = L(x, a, b)`.
    case ab = "[A,B]"
    /// `"[B,A]"`: one forward, `logit = L(x, b, a)`. **Not negated** — LLM-Blender returns the
    /// raw value, so there a positive logit (and `True`) means *B* is better, although its
    /// docstring says "True if A is better". We keep the raw value in `logit` and
    /// `blenderResult` for parity, and make `verdict` / `aBetter` mean what they say.
    case ba = "[B,A]"
    /// `"[A,B]+[B,A]"` (default, recommended): two forwards; Blender computes it as
    /// `rank(x, [a, b])` scores `s_a − s_b`, which is exactly `L(x,a,b) − L(x,b,a)` in float32
    /// (the docstring says "average"; it is the difference). Cancels PairRM's position bias.
    case both = "[A,B]+[B,A]"
}

/// Which candidate the model prefers.
public enum Verdict: String, Sendable, Equatable {
    case a, b, tie
}

/// The result of one comparison.
public struct Comparison: Sendable, Equatable {
    /// Blender's `compare(..., return_logits=True)` value for this mode (see `CompareMode`).
    public var logit: Float
    public var mode: CompareMode

    public init(logit: Float, mode: CompareMode) {
        self.logit = logit
        self.mode = mode
    }

    /// Blender's `compare(..., return_logits=False)` value: `logit > 0` (an exact 0 is false).
    /// In `.ba` mode this is true when **B** is preferred (the Blender quirk).
    public var blenderResult: Bool { logit > 0 }

    /// Our verdict, always about A versus B: `.ab`/`.both`: `logit > 0` → A, `< 0` → B;
    /// `.ba`: the logit is about (B, A), so `> 0` → B, `< 0` → A; exactly 0 → tie.
    public var verdict: Verdict {
        if logit == 0 || logit.isNaN { return .tie }
        switch mode {
        case .ab, .both: return logit > 0 ? .a : .b
        case .ba: return logit > 0 ? .b : .a
        }
    }

    /// `verdict == .a` (a tie is not "A better", like Blender's `cmp > 0`).
    public var aBetter: Bool { verdict == .a }
}

extension PairRanker {
    /// Blender's `compare([prompt], [a], [b], instructions: [instruction], mode:)`.
    /// The ranker's source is `instruction + prompt` with no separator.
    public func compare(_ prompt: String, _ a: String, _ b: String, instruction: String = "",
                        mode: CompareMode = .both, options: RankerOptions? = nil) throws -> Comparison {
        let options = try resolve(options)
        let input = try prepare(prompt: prompt, instruction: instruction, candidates: [a, b], options: options)
        switch mode {
        case .ab: return Comparison(logit: try logits(input, pairs: [(0, 1)], options: options)[0], mode: mode)
        case .ba: return Comparison(logit: try logits(input, pairs: [(1, 0)], options: options)[0], mode: mode)
        case .both:
            let l = try logits(input, pairs: [(0, 1), (1, 0)], options: options)
            let scores = Aggregation.maxLogitsScores([[0, l[0]], [l[1], 0]])
            return Comparison(logit: scores[0] - scores[1], mode: mode)
        }
    }
}
