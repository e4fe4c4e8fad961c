import Dispatch

/// Progress of a batched call, reported after each finished item.
public struct BatchProgress: Sendable, Equatable {
    /// Items finished (successfully or not).
    public var completed: Int
    /// Items that failed (included in `completed`).
    public var failed: Int
    public var total: Int
    public var elapsedSeconds: Double

    /// Items per second so far.
    public var rate: Double { elapsedSeconds > 0 ? Double(completed) / elapsedSeconds : 0 }
    /// Estimated seconds left at the current rate.
    public var remainingSeconds: Double { rate > 0 ? Double(total - completed) / rate : 0 }
}

/// Called from worker threads, one call at a time, after each item.
public typealias ProgressHandler = @Sendable (BatchProgress) -> Void

/// One prompt with two candidates (`compare`).
public struct CompareRequest: Sendable, Equatable {
    public var prompt: String
    public var a: String
    public var b: String
    public var instruction: String

    public init(prompt: String, a: String, b: String, instruction: String = "") {
        self.prompt = prompt
        self.a = a
        self.b = b
        self.instruction = instruction
    }
}

/// One prompt with its candidates (`rank`, `rankWithReference`, `bestOfN`, `worstOfN`).
public struct RankRequest: Sendable, Equatable {
    public var prompt: String
    public var candidates: [String]
    public var instruction: String
    /// `rankWithReference` only: overrides the reference mode for this item.
    public var reference: String?

    public init(prompt: String, candidates: [String], instruction: String = "", reference: String? = nil) {
        self.prompt = prompt
        self.candidates = candidates
        self.instruction = instruction
        self.reference = reference
    }
}

/// Two conversations (`compareConversations`).
public struct ConversationRequest: Sendable, Equatable {
    public var a: [Turn]
    public var b: [Turn]

    public init(a: [Turn], b: [Turn]) {
        self.a = a
        self.b = b
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func secondsNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension PairRanker {
    /// The batch engine: runs `body` on every input, `options.batchSize` items at a time (each
    /// item then runs its own forward passes one after another), and returns one `Result` per
    /// input, in order. A failing item does not stop the others. Cancellation (the token in
    /// `options`) stops before the next forward pass; items not finished then fail with
    /// `CancellationError`. `progress` is called after each item.
    public func batch<Input: Sendable, Output: Sendable>(
        _ inputs: [Input], options requested: RankerOptions? = nil, progress: ProgressHandler? = nil,
        _ body: (PairRanker, Input, RankerOptions) throws -> Output
    ) -> [Result<Output, any Error>] {
        let options: RankerOptions
        do { options = try resolve(requested) } catch { return inputs.map { _ in .failure(error) } }
        var inner = options
        inner.batchSize = max(1, options.batchSize / max(1, inputs.count))
        let state = ProgressState()
        let started = secondsNow()
        let results: [Result<Output, any Error>] = (try? parallelMap(inputs.count, workers: options.batchSize) { index in
            let result: Result<Output, any Error>
            if options.cancellation?.isCancelled == true {
                result = .failure(CancellationError())
            } else {
                do { result = .success(try body(self, inputs[index], inner)) } catch { result = .failure(error) }
            }
            state.lock.withLock {
                state.completed += 1
                if case .failure = result { state.failed += 1 }
                progress?(BatchProgress(completed: state.completed, failed: state.failed, total: inputs.count,
                                        elapsedSeconds: secondsNow() - started))
            }
            return result
        }) ?? []
        return results
    }

    /// Unwraps `batch` results: the first failure (by index) is thrown as `BatchItemError`,
    /// except cancellation, which is rethrown as `CancellationError`.
    func unwrap<T>(_ results: [Result<T, any Error>]) throws -> [T] {
        if results.contains(where: { if case .failure(let e) = $0 { return e is CancellationError } else { return false } }) {
            throw CancellationError()
        }
        return try results.enumerated().map { index, result in
            do { return try result.get() } catch { throw BatchItemError(index: index, underlying: error) }
        }
    }

    /// Runs synchronous work on a Dispatch thread (not the cooperative pool) and bridges Swift
    /// task cancellation into the options' cancellation token.
    func runDetached<T: Sendable>(options: RankerOptions?, _ work: @escaping @Sendable (RankerOptions) throws -> T) async throws -> T {
        var options = options ?? defaults
        let token = CancellationToken()
        let outer = options.cancellation
        options.cancellation = token
        let resolved = options
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                DispatchQueue.global().async {
                    if outer?.isCancelled == true { token.cancel() }
                    continuation.resume(with: Result { try work(resolved) })
                }
            }
        } onCancel: {
            token.cancel()
        }
    }

    // MARK: Synchronous batches

    public func compare(_ requests: [CompareRequest], mode: CompareMode = .both, options: RankerOptions? = nil,
                        progress: ProgressHandler? = nil) throws -> [Comparison] {
        try unwrap(batch(requests, options: options, progress: progress) { ranker, r, o in
            try ranker.compare(r.prompt, r.a, r.b, instruction: r.instruction, mode: mode, options: o)
        })
    }

    public func rank(_ requests: [RankRequest], strategy: RankStrategy = .fullMatrix, options: RankerOptions? = nil,
                     progress: ProgressHandler? = nil) throws -> [Ranking] {
        try unwrap(batch(requests, options: options, progress: progress) { ranker, r, o in
            try ranker.rank(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: o)
        })
    }

    /// `references[k]` (Blender's `ref_candidates`), else each request's `reference`, else `refMode`.
    public func rankWithReference(_ requests: [RankRequest], refMode: ReferenceMode = .longest, references: [String]? = nil,
                                  options: RankerOptions? = nil, progress: ProgressHandler? = nil) throws -> [Ranking] {
        if let references, references.count != requests.count {
            throw PairRMError(.invalidArgument, field: "references", problem: "\(references.count) references for \(requests.count) requests",
                              fix: "pass one reference per request, or nil")
        }
        let items = requests.enumerated().map { k, r in RankRequest(prompt: r.prompt, candidates: r.candidates, instruction: r.instruction,
                                                                      reference: references?[k] ?? r.reference) }
        return try unwrap(batch(items, options: options, progress: progress) { ranker, r, o in
            try ranker.rankWithReference(r.prompt, r.candidates, instruction: r.instruction, refMode: refMode, reference: r.reference, options: o)
        })
    }

    public func compareConversations(_ requests: [ConversationRequest], mode: CompareMode = .both, options: RankerOptions? = nil,
                                     progress: ProgressHandler? = nil) throws -> [Comparison] {
        try unwrap(batch(requests, options: options, progress: progress) { ranker, r, o in
            try ranker.compareConversations(r.a, r.b, mode: mode, options: o)
        })
    }

    /// With `.bubble(startOrder:)` the same start order is used for every request (Blender
    /// draws ONE permutation per DataLoader batch); it must fit every request's n.
    public func bestOfN(_ requests: [RankRequest], strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil,
                        progress: ProgressHandler? = nil) throws -> [Selection] {
        try unwrap(batch(requests, options: options, progress: progress) { ranker, r, o in
            try ranker.bestOfN(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: o)
        })
    }

    public func worstOfN(_ requests: [RankRequest], strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil,
                         progress: ProgressHandler? = nil) throws -> [Selection] {
        try unwrap(batch(requests, options: options, progress: progress) { ranker, r, o in
            try ranker.worstOfN(r.prompt, r.candidates, instruction: r.instruction, strategy: strategy, options: o)
        })
    }

    // MARK: Async batches (Task cancellation → CancellationError)

    public func compare(_ requests: [CompareRequest], mode: CompareMode = .both, options: RankerOptions? = nil,
                        progress: ProgressHandler? = nil) async throws -> [Comparison] {
        try await runDetached(options: options) { try self.compare(requests, mode: mode, options: $0, progress: progress) }
    }

    public func rank(_ requests: [RankRequest], strategy: RankStrategy = .fullMatrix, options: RankerOptions? = nil,
                     progress: ProgressHandler? = nil) async throws -> [Ranking] {
        try await runDetached(options: options) { try self.rank(requests, strategy: strategy, options: $0, progress: progress) }
    }

    public func rankWithReference(_ requests: [RankRequest], refMode: ReferenceMode = .longest, references: [String]? = nil,
                                  options: RankerOptions? = nil, progress: ProgressHandler? = nil) async throws -> [Ranking] {
        try await runDetached(options: options) {
            try self.rankWithReference(requests, refMode: refMode, references: references, options: $0, progress: progress)
        }
    }

    public func compareConversations(_ requests: [ConversationRequest], mode: CompareMode = .both, options: RankerOptions? = nil,
                                     progress: ProgressHandler? = nil) async throws -> [Comparison] {
        try await runDetached(options: options) { try self.compareConversations(requests, mode: mode, options: $0, progress: progress) }
    }

    public func bestOfN(_ requests: [RankRequest], strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil,
                        progress: ProgressHandler? = nil) async throws -> [Selection] {
        try await runDetached(options: options) { try self.bestOfN(requests, strategy: strategy, options: $0, progress: progress) }
    }

    public func worstOfN(_ requests: [RankRequest], strategy: SelectionStrategy = .bubble, options: RankerOptions? = nil,
                         progress: ProgressHandler? = nil) async throws -> [Selection] {
        try await runDetached(options: options) { try self.worstOfN(requests, strategy: strategy, options: $0, progress: progress) }
    }
}
