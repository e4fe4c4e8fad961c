import PairRMFormat
import PairRMKernels

/// A loaded PairRM model: the memory-mapped container, resolved weights and the precomputed
/// position projections. Immutable, so one instance can be shared by any number of threads;
/// each concurrent caller brings its own `InferenceContext`.
public final class PairRMModel: @unchecked Sendable {
    public let file: ModelFile
    public let config: ModelConfig
    let weights: EncoderWeights
    let positionProjections: PositionProjections
    let relative: RelativePositions

    /// Longest sequence PairRM feeds the encoder (1224 + 2 × 412).
    public static let maxTokens = 2048

    /// The kernel variant this process runs ("generic", "avx2", "avx512_vnni", "neon_dotprod"),
    /// chosen once from the CPU's features.
    public static var kernelVariant: String { String(cString: prm_isa_name(prm_kernels_active())) }

    public convenience init(path: String, options: LoadOptions = LoadOptions(), activationPlan: ActivationPlan? = nil) throws {
        try self.init(file: ModelFile(path: path, options: options), activationPlan: activationPlan)
    }

    /// The activation widths this model runs with (the file's plan unless overridden at load).
    public var activationPlan: ActivationPlan { weights.activationPlan }

    /// - Parameter activationPlan: overrides the activation widths the file records (for comparing
    ///   the int16 and W8A8 plans on one file: the weights are the same); nil uses the file's.
    public init(file: ModelFile, activationPlan: ActivationPlan? = nil) throws {
        self.file = file
        config = try ModelConfig(metadata: file.metadata, file: file.path)
        weights = try EncoderWeights(file: file, config: config, activationPlan: activationPlan)
        positionProjections = try PositionProjections(file: file, config: config)
        relative = RelativePositions(buckets: config.positionBuckets, maxPosition: config.maxRelativePositions,
                                     maxDistance: PairRMModel.maxTokens)
    }

    /// The two head outputs for one assembled input (Formats/pairrm-model.md §3.6): z1 = head(src, cand1),
    /// z2 = head(src, cand2); the PairRM logit is z1 − z2 (> 0: candidate 1 is better).
    public struct HeadOutputs: Sendable, Equatable {
        public var candidate1: Float
        public var candidate2: Float
        public var logit: Float { candidate1 - candidate2 }
    }

    /// Scores one assembled sequence `[CLS] <|source|> … [SEP] [CLS] <|candidate1|> … [SEP] [CLS] <|candidate2|> … [SEP]`.
    /// - Parameters:
    ///   - positions: indices of the three prefix tokens in `ids`.
    ///   - probe: optional observer of intermediate results (tests).
    public func score(ids: [Int32], positions: (source: Int, candidate1: Int, candidate2: Int),
                      context: InferenceContext, probe: ForwardProbe? = nil) throws -> HeadOutputs {
        try validate(ids: ids, positions: positions, context: context)
        let prefixes = [positions.source, positions.candidate1, positions.candidate2]
        ids.withUnsafeBufferPointer { encode($0, context: context, probe: probe, keep: prefixes) }
        let h = config.hiddenSize
        let source = context.x + positions.source * h
        let candidates = [context.x + positions.candidate1 * h, context.x + positions.candidate2 * h]
        let outputs = head(source, candidates, context: context)
        return HeadOutputs(candidate1: outputs[0], candidate2: outputs[1])
    }

    private func validate(ids: [Int32], positions: (source: Int, candidate1: Int, candidate2: Int), context: InferenceContext) throws {
        func bad(_ field: String, _ problem: String, _ fix: String) -> RuntimeError {
            RuntimeError(.badInput, file: file.path, field: field, problem: problem, fix: fix)
        }
        guard !ids.isEmpty, ids.count <= context.maxTokens else {
            throw bad("ids", "\(ids.count) tokens; this context holds 1…\(context.maxTokens)",
                      "truncate the input (PairRM's limit is 2048) or make a context with a larger maxTokens")
        }
        if let index = ids.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw bad("ids[\(index)]", "token id \(ids[index]) is outside the vocabulary 0..<\(config.vocabSize)",
                      "tokenize with this model's tokenizer")
        }
        let expected = [(positions.source, config.sourcePrefixID, "source"), (positions.candidate1, config.candidate1PrefixID, "candidate1"),
                        (positions.candidate2, config.candidate2PrefixID, "candidate2")]
        for (position, id, name) in expected {
            guard position >= 0, position < ids.count, ids[position] == id else {
                throw bad("positions.\(name)", "position \(position) does not hold the <|\(name)|> token \(id)",
                          "pass the prefix positions the input assembly returned")
            }
        }
    }

    /// W4 · tanh(W1 · [source; candidate] + b1) + b4 for each candidate, in f32 with a double
    /// accumulator (the head is tiny, and its rounding moves the logit directly). The rows of W1 are
    /// split across the context's threads; their terms are then summed in row order, so the result
    /// does not depend on the split.
    private func head(_ source: UnsafePointer<Float>, _ candidates: [UnsafeMutablePointer<Float>], context: InferenceContext) -> [Float] {
        let h = config.hiddenSize, w = weights
        let terms = UnsafeMutablePointer<Double>.allocate(capacity: candidates.count * h)
        defer { terms.deallocate() }
        let ranges = splitRanges(h, parts: context.threads, granularity: 64)
        parallelFor(ranges.count, threads: context.threads) { part in
            for row in ranges[part] {
                let weightRow = w.head1 + row * 2 * h
                for (slot, candidate) in candidates.enumerated() {
                    var sum = Double(w.head1Bias[row])
                    for column in 0..<h {
                        sum += Double(weightRow[column]) * Double(source[column])
                        sum += Double(weightRow[h + column]) * Double(candidate[column])
                    }
                    terms[slot * h + row] = Double(w.head2[row]) * Double(Float(sum).tanhValue)
                }
            }
        }
        return candidates.indices.map { slot in
            var output = Double(w.head2Bias[0])
            for row in 0..<h { output += terms[slot * h + row] }
            return Float(output)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Float {
    var tanhValue: Float { tanhf(self) }
}
