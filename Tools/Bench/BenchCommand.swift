import ArgumentParser
import Foundation
import PairRMFormat
import PairRMKernels
import PairRMRuntime

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairrm-bench",
        abstract: "Measure the runtime: latency per pair at given lengths, and fidelity of quantized models against f32.",
        subcommands: [Latency.self, Fidelity.self, Reference.self]
    )
}

/// Synthetic assembled inputs of an exact total length: `[CLS] <|source|> … [SEP]` etc. with
/// seeded random ordinary token ids, the source taking half and each candidate a quarter.
func syntheticPair(model: PairRMModel, tokens: Int, seed: UInt64) -> (ids: [Int32], positions: (Int, Int, Int)) {
    var state = seed
    func next() -> Int32 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int32(truncatingIfNeeded: 1000 + Int((state >> 33) % UInt64(max(1, model.config.vocabSize - 2000))))
    }
    let config = model.config
    let sourceLength = max(3, tokens / 2), candidateLength = max(3, (tokens - sourceLength) / 2)
    let secondLength = tokens - sourceLength - candidateLength
    var ids: [Int32] = []
    func segment(_ prefix: Int32, _ length: Int) -> Int {
        let position = ids.count + 1
        ids += [1, prefix] + (0..<(length - 3)).map { _ in next() } + [2]
        return position
    }
    let p0 = segment(config.sourcePrefixID, sourceLength)
    let p1 = segment(config.candidate1PrefixID, candidateLength)
    let p2 = segment(config.candidate2PrefixID, secondLength)
    return (ids, (p0, p1, p2))
}

/// `PATH` or `PATH@PLAN`: PLAN overrides the file's activation widths, as `INT8` or `INT16` for every
/// matrix, or comma-separated `<matrix>=<INT8|INT16>` rules (ActivationPlan), so one q8 file serves
/// every plan.
func loadModel(_ spec: String) throws -> PairRMModel {
    guard let at = spec.lastIndex(of: "@") else { return try PairRMModel(path: spec) }
    let path = String(spec[..<at]), planText = String(spec[spec.index(after: at)...])
    let plan: ActivationPlan
    if let width = ActivationPlan.Width(rawValue: planText.uppercased()) {
        plan = .all(width)
    } else {
        do { plan = try ActivationPlan(rules: planText.split(separator: ",").map(String.init)) } catch {
            throw ValidationError("\(spec): \(error.description)")
        }
    }
    return try PairRMModel(path: path, activationPlan: plan)
}

/// Switches the kernel table to the named variant (nil: leave the best one).
func forceKernels(_ name: String?) throws {
    guard let name else { return }
    guard let isa = (0..<Int(PRM_ISA_COUNT.rawValue)).map({ prm_isa(rawValue: UInt32($0)) })
        .first(where: { String(cString: prm_isa_name($0)) == name }), prm_kernels_force(isa) == 0 else {
        throw ValidationError("kernel variant \(name) is not available here")
    }
}

func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}

struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Latency of one pair at each length, pairs/s of a batch, load time and peak RSS, as JSON.")

    @Option(help: "The .prm model, optionally PATH@INT8 (or @rules) to override its activation plan.") var model: String
    @Option(help: "Total token counts to time.") var tokens: [Int] = [128, 512, 2048]
    @Option(help: "Threads.") var threads: Int = 1
    @Option(help: "Timed runs per length (median reported).") var runs: Int = 3
    @Option(help: "Pairs in the throughput batch (0 skips it).") var batchPairs: Int = 8
    @Option(help: "Tokens per pair in the throughput batch.") var batchTokens: Int = 256
    @Option(help: "Kernel variant: generic, avx2, avx512_vnni, neon_dotprod (default: best).") var kernels: String?

    func validate() throws {
        // Three segments of [CLS] prefix … [SEP] need at least 3 tokens each.
        if let short = (tokens + (batchPairs > 0 ? [batchTokens] : [])).first(where: { $0 < 12 }) {
            throw ValidationError("--tokens/--batch-tokens \(short) is too short: a pair needs at least 12 tokens")
        }
    }

    func run() throws {
        try forceKernels(kernels)
        let loadStart = Date()
        let loaded = try loadModel(model)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let context = InferenceContext(model: loaded, maxTokens: max(tokens.max() ?? 128, batchTokens), threads: threads)
        var result: [String: Any] = ["model": model, "threads": threads, "load_seconds": loadSeconds,
                                     "kernels": String(cString: prm_isa_name(prm_kernels_active())),
                                     "activations": loaded.activationPlan.rules]
        var latencies: [String: Double] = [:]
        for length in tokens {
            let pair = syntheticPair(model: loaded, tokens: length, seed: UInt64(length))
            _ = try loaded.score(ids: pair.ids, positions: pair.positions, context: context)  // warm-up
            var times: [Double] = []
            for _ in 0..<runs {
                let start = Date()
                _ = try loaded.score(ids: pair.ids, positions: pair.positions, context: context)
                times.append(Date().timeIntervalSince(start))
            }
            latencies[String(length)] = times.sorted()[times.count / 2]
            FileHandle.standardError.write("T=\(length): \(latencies[String(length)]!) s\n".data(using: .utf8)!)
        }
        result["latency_seconds"] = latencies
        if batchPairs > 0 {
            let pairs = (0..<batchPairs).map { syntheticPair(model: loaded, tokens: batchTokens, seed: 1000 + UInt64($0)) }
            let start = Date()
            for pair in pairs { _ = try loaded.score(ids: pair.ids, positions: pair.positions, context: context) }
            result["batch_pairs_per_second"] = Double(batchPairs) / Date().timeIntervalSince(start)
        }
        result["peak_rss_bytes"] = peakRSS()
        let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

struct Fidelity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Order-averaged scores s = (L(a,b) − L(b,a))/2 of quantized models against a reference model on a JSONL of pairs.",
        discussion: """
            Input lines: {"ids_ab": [...], "pos_ab": [p0,p1,p2], "ids_ba": [...],
            "pos_ba": [...]} (Tools/python/pairrm_reference/golden/make_pairs.py). The reference is run
            once; with --reference-logits FILE its logits are read from FILE when it
            exists (same model, same pairs) and written there otherwise, so several runs
            share one f32 pass.
            """)

    @Option(help: "Reference model (normally f32).") var reference: String
    @Option(help: "Model under test (repeat for several; none: only fill the --reference-logits cache); PATH@INT8 or PATH@rules overrides its activation plan.") var model: [String] = []
    @Option(help: "Pairs JSONL.") var pairs: String
    @Option(help: "Use only the first N pairs.") var limit: Int = 200
    @Option(help: "Threads.") var threads: Int = 2
    @Option(help: "Cache of the reference logits (JSON), read if present, written otherwise.") var referenceLogits: String?

    struct Input { let ab: [Int32]; let pab: (Int, Int, Int); let ba: [Int32]; let pba: (Int, Int, Int) }

    func run() throws {
        let lines = try String(contentsOfFile: pairs, encoding: .utf8).split(separator: "\n").prefix(limit)
        let inputs: [Input] = try lines.map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            func input(_ order: String) -> ([Int32], (Int, Int, Int)) {
                let ids = (object["ids_\(order)"] as! [NSNumber]).map(\.int32Value)
                let p = (object["pos_\(order)"] as! [NSNumber]).map(\.intValue)
                return (ids, (p[0], p[1], p[2]))
            }
            let (ab, pab) = input("ab"), (ba, pba) = input("ba")
            return Input(ab: ab, pab: pab, ba: ba, pba: pba)
        }
        /// Logits of both orders of every pair; `checkpoint` is called every 10 pairs with those so far.
        func logits(of path: String, checkpoint: ([(Double, Double)]) throws -> Void = { _ in }) throws -> [(Double, Double)] {
            let loaded = try loadModel(path)
            let context = InferenceContext(model: loaded, maxTokens: 2048, threads: threads)
            var result: [(Double, Double)] = []
            for (index, input) in inputs.enumerated() {
                let l1 = try loaded.score(ids: input.ab, positions: input.pab, context: context).logit
                let l2 = try loaded.score(ids: input.ba, positions: input.pba, context: context).logit
                result.append((Double(l1), Double(l2)))
                if (index + 1) % 10 == 0 {
                    try checkpoint(result)
                    FileHandle.standardError.write("\(path): \(index + 1)/\(inputs.count)\n".data(using: .utf8)!)
                }
            }
            try checkpoint(result)
            return result
        }
        var baseline: [(Double, Double)]
        if let cache = referenceLogits, FileManager.default.fileExists(atPath: cache) {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cache))) as! [String: Any]
            let pairsLogits = (object["logits"] as! [[NSNumber]]).map { ($0[0].doubleValue, $0[1].doubleValue) }
            guard object["model"] as? String == self.reference, pairsLogits.count >= inputs.count else {
                throw ValidationError("\(cache) holds logits of another reference model or only \(pairsLogits.count) pairs; use --limit \(pairsLogits.count) or delete it")
            }
            baseline = Array(pairsLogits.prefix(inputs.count))
        } else {
            // Written every 10 pairs, so an interrupted run still leaves the pairs it finished.
            baseline = try logits(of: self.reference) { done in
                guard let cache = referenceLogits else { return }
                let object: [String: Any] = ["model": self.reference, "pairs": pairs, "logits": done.map { [$0.0, $0.1] }]
                try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: cache), options: .atomic)
            }
        }
        let referenceScores = baseline.map { ($0.0 - $0.1) / 2 }
        let meanAbsS = referenceScores.map(abs).reduce(0, +) / Double(referenceScores.count)
        let meanS = referenceScores.reduce(0, +) / Double(referenceScores.count)
        let spreadS = (referenceScores.map { ($0 - meanS) * ($0 - meanS) }.reduce(0, +) / Double(referenceScores.count)).squareRoot()
        let meanAbsLogit = baseline.map { (abs($0.0) + abs($0.1)) / 2 }.reduce(0, +) / Double(baseline.count)
        var summary: [String: Any] = [
            "pairs": inputs.count, "reference": self.reference, "mean_abs_reference_s": meanAbsS, "std_reference_s": spreadS,
            "mean_abs_reference_logit": meanAbsLogit,
        ]
        var perModel: [String: Any] = [:]
        for path in model {
            let tested = try logits(of: path)
            let s = zip(referenceScores, tested.map { ($0.0 - $0.1) / 2 }).map { ($0, $1) }
            let agreement = Double(s.filter { ($0.0 > 0) == ($0.1 > 0) }.count) / Double(s.count)
            let meanR = s.map(\.0).reduce(0, +) / Double(s.count), meanT = s.map(\.1).reduce(0, +) / Double(s.count)
            var covariance = 0.0, varianceR = 0.0, varianceT = 0.0
            for (r, t) in s {
                covariance += (r - meanR) * (t - meanT); varianceR += (r - meanR) * (r - meanR); varianceT += (t - meanT) * (t - meanT)
            }
            let logitErrors = zip(baseline, tested).flatMap { [abs($1.0 - $0.0), abs($1.1 - $0.1)] }
            perModel[path] = [
                "sign_agreement": agreement, "pearson": covariance / (varianceR * varianceT).squareRoot(),
                "mean_abs_logit_error": logitErrors.reduce(0, +) / Double(logitErrors.count),
                "max_abs_logit_error": logitErrors.max() ?? 0,
                "mean_abs_s_error": s.map { abs($0.1 - $0.0) }.reduce(0, +) / Double(s.count),
            ]
        }
        summary["models"] = perModel
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

struct Reference: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare our logits with PyTorch's (Tools/python/pairrm_reference/golden/reference_logits.py output) on the same pairs.",
        discussion: "Prints the largest |ours − PyTorch| over both orders of every pair, as JSON.")

    @Option(help: "The .prm model (normally f32); PATH@INT8 or PATH@rules overrides its activation plan.") var model: String
    @Option(help: "Pairs JSONL (Tools/python/pairrm_reference/golden/make_pairs.py).") var pairs: String
    @Option(help: "reference_logits.py output JSON.") var logits: String
    @Option(help: "Threads.") var threads: Int = 2
    @Option(help: "Kernel variant: generic, avx2, avx512_vnni, neon_dotprod (default: best).") var kernels: String?

    func run() throws {
        try forceKernels(kernels)
        let loaded = try loadModel(model)
        let context = InferenceContext(model: loaded, maxTokens: 2048, threads: threads)
        let lines = try String(contentsOfFile: pairs, encoding: .utf8).split(separator: "\n")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: logits))) as! [String: Any]
        var worst = 0.0
        var rows: [[String: Any]] = []
        for result in reference["results"] as! [[String: Any]] {
            let index = (result["index"] as! NSNumber).intValue
            let object = try JSONSerialization.jsonObject(with: Data(lines[index].utf8)) as! [String: Any]
            for order in ["ab", "ba"] {
                let ids = (object["ids_\(order)"] as! [NSNumber]).map(\.int32Value)
                let p = (object["pos_\(order)"] as! [NSNumber]).map(\.intValue)
                let ours = try loaded.score(ids: ids, positions: (p[0], p[1], p[2]), context: context).logit
                let theirs = (result["logit_\(order)"] as! NSNumber).doubleValue
                worst = max(worst, abs(Double(ours) - theirs))
                rows.append(["index": index, "order": order, "T": ids.count, "ours": Double(ours), "pytorch": theirs])
            }
        }
        let data = try JSONSerialization.data(withJSONObject: ["max_abs_error": worst, "logits": rows], options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
