import PairRMFormat
import PairRMRuntime
import PairRMTokenizer
import PairRMSchema

/// Per-call settings. Every public method takes `options: RankerOptions? = nil`, which means
/// the ranker's `defaults`.
public struct RankerOptions: Sendable {
    /// Worker threads inside one forward pass (results are bit-identical for any value).
    public var threads: Int
    /// Forward passes in flight at once, each on its own pooled `InferenceContext`. Single
    /// calls spread their independent pairs over these; batched calls spread their items.
    /// Results never depend on it (unlike LLM-Blender, whose candidate cap depends on the
    /// longest source of a DataLoader batch: we always use the per-example cap of
    /// Formats/pairrm-model.md §2.3, which equals Blender with `batch_size=1`).
    public var batchSize: Int
    /// Token budget of `[CLS] <|source|> instruction+prompt [SEP]` (PairRM: 1224).
    public var sourceMaxLength: Int
    /// Candidate budget before the source's unused budget is shared out (PairRM: 412); each
    /// candidate gets `(sourceMaxLength + 2·candidateMaxLength − Ls) / 2` tokens.
    public var candidateMaxLength: Int
    /// Blender's collator replaces every literal `"[SEP]"` in the source and the candidates
    /// with `" "` before tokenizing (Formats/pairrm-model.md §2.4 step 2). On by default (parity); off
    /// gives the HF-wrapper behaviour (`[SEP]` becomes separator id 2).
    public var replaceSeparatorLiterals: Bool
    /// Throw `PairRMError.inputTooLong` instead of truncating a text that exceeds its budget
    /// (LLM-Blender always truncates, keeping the beginning).
    public var rejectTruncation: Bool
    /// Checked before every forward pass; cancelled → `CancellationError`.
    public var cancellation: CancellationToken?

    public init(threads: Int = 1, batchSize: Int = 1, sourceMaxLength: Int = 1224, candidateMaxLength: Int = 412,
                replaceSeparatorLiterals: Bool = true, rejectTruncation: Bool = false,
                cancellation: CancellationToken? = nil) {
        self.threads = threads
        self.batchSize = batchSize
        self.sourceMaxLength = sourceMaxLength
        self.candidateMaxLength = candidateMaxLength
        self.replaceSeparatorLiterals = replaceSeparatorLiterals
        self.rejectTruncation = rejectTruncation
        self.cancellation = cancellation
    }

    /// Longest assembled sequence these options can produce (Int.max when the sum would overflow,
    /// as absurd budgets from a command line or a damaged model file may).
    public var maxTokens: Int {
        let (candidates, overflowA) = candidateMaxLength.multipliedReportingOverflow(by: 2)
        let (sum, overflowB) = sourceMaxLength.addingReportingOverflow(candidates)
        return overflowA || overflowB ? Int.max : sum
    }

    func validated() throws -> RankerOptions {
        func bad(_ field: String, _ problem: String, _ fix: String) -> PairRMError {
            PairRMError(.invalidArgument, field: field, problem: problem, fix: fix)
        }
        guard threads >= 1 else { throw bad("threads", "\(threads) is not ≥ 1", "pass 1 or more") }
        guard batchSize >= 1 else { throw bad("batchSize", "\(batchSize) is not ≥ 1", "pass 1 or more") }
        guard sourceMaxLength >= 3, candidateMaxLength >= 3 else {
            throw bad(sourceMaxLength < 3 ? "sourceMaxLength" : "candidateMaxLength", "must be ≥ 3 ([CLS], prefix, [SEP])",
                      "use PairRM's 1224 / 412")
        }
        guard maxTokens <= PairRMModel.maxTokens else {
            let total = maxTokens == Int.max ? "more than \(Int.max)" : "\(maxTokens)"
            throw bad("sourceMaxLength/candidateMaxLength", "\(sourceMaxLength) + 2 × \(candidateMaxLength) = \(total) tokens exceeds the model's \(PairRMModel.maxTokens)",
                      "keep sourceMaxLength + 2 × candidateMaxLength ≤ \(PairRMModel.maxTokens) (PairRM: 1224 + 2 × 412)")
        }
        return self
    }
}

/// PairRM with LLM-Blender's API: load once, share everywhere.
///
/// `PairRanker` is immutable apart from an internal, locked pool of inference contexts, so one
/// instance can be used from any number of threads or tasks at once. Each forward pass borrows
/// a context (allocated on first need for its thread count, then reused: no per-call
/// allocation of the large buffers in steady state) and returns it to the pool.
///
/// Semantics follow `llm_blender.Blender` with PairRM on CPU in float32 (Formats/pairrm-model.md §4),
/// checked by `Tests/PairRMTests/ParityTests.swift` against fixtures made by LLM-Blender's own
/// code (`Tools/python/pairrm_reference/parity/make_parity.py`). `L(x, a, b)` below is the model's logit for
/// source `x` with `a` as candidate 1 (left) and `b` as candidate 2 (right); > 0 means the
/// model prefers the left one.
public final class PairRanker: Sendable {
    public let model: PairRMModel
    public let tokenizer: Tokenizer
    /// Options used when a call passes none.
    public let defaults: RankerOptions
    let pool: ContextPool
    /// Forward passes and tokens scored so far by this ranker (all threads), for servers' metrics.
    public let usage = UsageCounter()
    /// The kernel variant the forward passes run on (`PairRMModel.kernelVariant`).
    public static var kernelVariant: String { PairRMModel.kernelVariant }

    /// Loads a `.prm` file. `defaults` start from the container's `pairrm.source_max_length` /
    /// `pairrm.candidate_max_length` when present.
    public convenience init(path: String, options: RankerOptions? = nil) throws {
        try self.init(model: PairRMModel(path: path), options: options)
    }

    public init(model: PairRMModel, options: RankerOptions? = nil, maxPooledContexts: Int = 16) throws {
        self.model = model
        let metadata = model.file.metadata
        tokenizer = try Tokenizer(vocabulary: model.file.vocabulary, settings: TokenizerSettings(metadata: metadata))
        self.defaults = try (options ?? PairRanker.defaultOptions(for: model)).validated()
        pool = ContextPool(model: model, limit: maxPooledContexts)
    }

    /// The options a model runs with unless told otherwise: `RankerOptions()`'s, with the token
    /// budgets the file records (`pairrm.source_max_length`, `pairrm.candidate_max_length`). The
    /// one place where "metadata unless overridden" is decided; callers change fields of it.
    public static func defaultOptions(for model: PairRMModel) -> RankerOptions {
        var options = RankerOptions()
        let metadata = model.file.metadata
        if let value = metadata.int(MetadataKey.pairrmSourceMaxLength) { options.sourceMaxLength = Int(value) }
        if let value = metadata.int(MetadataKey.pairrmCandidateMaxLength) { options.candidateMaxLength = Int(value) }
        return options
    }

    func resolve(_ options: RankerOptions?) throws -> RankerOptions {
        try (options ?? defaults).validated()
    }

    /// Contexts currently idle in the pool (diagnostics, tests).
    public var pooledContexts: Int { pool.idleCount }
}

// MARK: - Input preparation

/// One source with its candidate segments tokenized once; any ordered pair is then assembled
/// by concatenation (the candidate cap depends only on the source length, and the candidate
/// text after `<|candidate1|>` / `<|candidate2|>` tokenizes identically, Formats/pairrm-model.md §2.1).
struct PreparedInput {
    var source: [Int32]
    /// `[CLS] <|candidate1|> … [SEP]` per candidate.
    var candidates: [[Int32]]
    var candidate1ID: Int32
    var candidate2ID: Int32

    /// Ids and prefix positions for `L(x, candidates[left], candidates[right])`.
    func pair(_ left: Int, _ right: Int) -> (ids: [Int32], positions: (source: Int, candidate1: Int, candidate2: Int)) {
        var ids = source
        ids.reserveCapacity(source.count + candidates[left].count + candidates[right].count)
        ids += candidates[left]
        let rightStart = ids.count
        ids += candidates[right]
        ids[rightStart + 1] = candidate2ID
        return (ids, (1, source.count + 1, rightStart + 1))
    }
}

extension PairRanker {
    /// Blender's `str.replace("[SEP]", " ")`: left to right, non-overlapping, one pass.
    static func replacingSeparators(_ text: String) -> String {
        let needle = Array("[SEP]".utf8)
        let bytes = Array(text.utf8)
        guard bytes.count >= needle.count else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            if bytes[i] == 0x5B, i + needle.count <= bytes.count, Array(bytes[i..<(i + needle.count)]) == needle {
                out.append(0x20)
                i += needle.count
                changed = true
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// Tokenizes `instruction + prompt` (no separator, as Blender's `RankerDataset`) once and each
    /// distinct candidate once; every pair is then assembled from these parts (`PreparedInput.pair`).
    /// With `rejectTruncation`, the untruncated part lengths are checked against the budgets.
    func prepare(prompt: String, instruction: String, candidates: [String], options: RankerOptions) throws -> PreparedInput {
        let fix = options.replaceSeparatorLiterals ? Self.replacingSeparators : { $0 }
        // Each text is read only as far as its budget needs (memory follows the budget, not the text).
        let (sourceContent, sourceWhole) = try tokenizer.encodePart(prefix: "<|source|>", text: fix(instruction + prompt),
                                                                    limit: options.sourceMaxLength - 2)
        if options.rejectTruncation, sourceContent.count + 2 > options.sourceMaxLength {
            let length = sourceWhole ? "\(sourceContent.count + 2)" : "more than \(sourceContent.count + 1)"
            throw PairRMError(.inputTooLong, field: "prompt",
                              problem: "instruction + prompt is \(length) tokens; the source budget is \(options.sourceMaxLength)",
                              fix: "shorten it, raise sourceMaxLength (keeping sourceMaxLength + 2 × candidateMaxLength ≤ 2048), or allow truncation")
        }
        let sourceIDs = tokenizer.sourcePart(sourceContent, sourceMaxLength: options.sourceMaxLength)
        let cap = tokenizer.candidateCap(sourcePartLength: sourceIDs.count, sourceMaxLength: options.sourceMaxLength,
                                         candidateMaxLength: options.candidateMaxLength)
        var segments: [[Int32]] = []
        var seen: [String: Int] = [:]
        for (index, raw) in candidates.enumerated() {
            if let earlier = seen[raw] { segments.append(segments[earlier]); continue }
            let (content, whole) = try tokenizer.encodePart(prefix: "<|candidate1|>", text: fix(raw), limit: cap - 2)
            if options.rejectTruncation, content.count + 2 > cap {
                throw PairRMError(.inputTooLong, field: "candidates[\(index)]",
                                  problem: "\(whole ? "\(content.count + 2)" : "more than \(content.count + 1)") tokens; this source leaves each candidate \(cap)",
                                  fix: "shorten it or allow truncation (Blender keeps its first \(cap - 2) tokens)")
            }
            segments.append(tokenizer.candidatePart(content, cap: cap))
            seen[raw] = index
        }
        return PreparedInput(source: sourceIDs, candidates: segments,
                             candidate1ID: segments.first?[1] ?? model.config.candidate1PrefixID,
                             candidate2ID: model.config.candidate2PrefixID)
    }

    /// Logits of ordered pairs `(left, right)` of one prepared input, spread over
    /// `options.batchSize` pooled contexts.
    func logits(_ input: PreparedInput, pairs: [(Int, Int)], options: RankerOptions) throws -> [Float] {
        try parallelMap(pairs.count, workers: options.batchSize) { k in
            try options.cancellation?.check()
            let (ids, positions) = input.pair(pairs[k].0, pairs[k].1)
            let logit = try pool.withContext(threads: options.threads, maxTokens: max(options.maxTokens, ids.count)) { context in
                try model.score(ids: ids, positions: positions, context: context).logit
            }
            usage.record(tokens: ids.count)
            // A NaN or infinite logit is never a verdict: it comes from broken weights or metadata
            // (a NaN weight, a negative layer_norm_eps), so it is reported, not printed as null.
            guard logit.isFinite else {
                throw PairRMError(.nonFiniteResult, field: "logit",
                                  problem: "the model \(model.file.path) produced \(logit) for this input, so its weights or metadata are broken",
                                  fix: "run `pairrm verify \(model.file.path)`, and re-convert the checkpoint (check its config's layer_norm_eps and its weights for NaN)")
            }
            return logit
        }
    }
}

// MARK: - Usage

/// Running totals of forward passes and their tokens; read at any time from any thread.
public final class UsageCounter: @unchecked Sendable {
    private let lock = Lock()
    private var passes = 0
    private var tokenCount = 0

    func record(tokens: Int) {
        lock.withLock {
            passes &+= 1
            tokenCount &+= tokens
        }
    }

    public var forwardPasses: Int { lock.withLock { passes } }
    public var tokens: Int { lock.withLock { tokenCount } }
}

// MARK: - Context pool

/// Idle `InferenceContext`s, keyed by thread count; a borrowed context serves one forward pass.
final class ContextPool: @unchecked Sendable {
    let model: PairRMModel
    let limit: Int
    private let lock = Lock()
    private var idle: [InferenceContext] = []

    init(model: PairRMModel, limit: Int) {
        self.model = model
        self.limit = max(1, limit)
    }

    var idleCount: Int { lock.withLock { idle.count } }

    func withContext<T>(threads: Int, maxTokens: Int, _ body: (InferenceContext) throws -> T) throws -> T {
        let reused: InferenceContext? = lock.withLock {
            guard let index = idle.lastIndex(where: { $0.threads == threads && $0.maxTokens >= maxTokens }) else { return nil }
            return idle.remove(at: index)
        }
        // New contexts are sized for the whole PairRM window so they can serve any later call.
        let context = reused ?? InferenceContext(model: model, maxTokens: max(maxTokens, PairRMModel.maxTokens), threads: threads)
        defer {
            lock.withLock {
                idle.append(context)
                if idle.count > limit { idle.removeFirst(idle.count - limit) }
            }
        }
        return try body(context)
    }
}
