import ArgumentParser
import PairRM
import PairRMFormat
import PairRMSchema

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the latency of compare on synthetic inputs.",
        discussion: """
        Builds a synthetic prompt and two candidates of about --source-words /
        --candidate-words words, runs --warmup untimed compares, then --iterations
        timed ones, and prints the assembled sequence length and the latency (mean,
        p50, p90, min) per compare and per forward pass. Tokenization is included (it
        is part of every call).

        Exit codes: 0 success; 1 the model could not be loaded; 64 usage error.

        Examples:
          pairrm bench --model pairrm-q8.prm
          pairrm bench --model pairrm-q8.prm --threads 8 --mode ab \\
              --source-words 600 --candidate-words 200
        """
    )

    @Option(name: .long, help: modelHelp)
    var model: String?

    @Option(name: .long, help: recipeHelp)
    var recipe: String = "q8"

    @Option(name: .long, parsing: .unconditional, help: ThreadCount.help)
    var threads: ThreadCount = ThreadCount(1)

    @OptionGroup var load: LoadArguments

    @Option(name: .long, help: "Words in the synthetic prompt.")
    var sourceWords: Int = 60

    @Option(name: .long, help: "Words in each synthetic candidate.")
    var candidateWords: Int = 40

    @Option(name: .long, help: "Timed compares.")
    var iterations: Int = 20

    @Option(name: .long, help: "Untimed compares first.")
    var warmup: Int = 2

    @Option(name: .long, help: "both = [A,B]+[B,A] (2 forward passes, default), ab or ba (1).")
    var mode: CompareModeArgument = .both

    func validate() throws {
        try threads.validate()
        guard iterations >= 1, warmup >= 0, sourceWords >= 0, candidateWords >= 0 else {
            throw ValidationError("--iterations must be ≥ 1; --warmup and word counts ≥ 0")
        }
    }

    func run() throws {
        let ranker: PairRanker
        do { ranker = try loadPairRanker(model: model, recipe: recipe, threads: threads.value, load: load.options) } catch let error as ValidationError { throw error } catch let error as ExitCode { throw error } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let words = ["the", "old", "man", "went", "to", "school", "and", "said", "nothing", "about", "his", "father",
                     "who", "was", "kind", "teacher", "in", "a", "small", "town", "by", "river", "every", "day"]
        func text(_ count: Int, seed: Int) -> String {
            (0..<count).map { words[($0 * 7 + seed * 13 + $0 / 5) % words.count] }.joined(separator: " ")
        }
        let prompt = text(sourceWords, seed: 1), a = text(candidateWords, seed: 2), b = text(candidateWords, seed: 3)
        let encoding = try ranker.tokenizer.encodePair(source: prompt, candidateA: a, candidateB: b,
                                                       sourceMaxLength: ranker.defaults.sourceMaxLength,
                                                       candidateMaxLength: ranker.defaults.candidateMaxLength)
        let forwards = mode == .both ? 2 : 1
        for _ in 0..<warmup { _ = try ranker.compare(prompt, a, b, mode: mode.mode) }
        var times: [Double] = []
        let bar = ProgressBar(label: "bench", unit: "compares")
        for i in 0..<iterations {
            let start = monotonicSeconds()
            _ = try ranker.compare(prompt, a, b, mode: mode.mode)
            times.append(monotonicSeconds() - start)
            bar.update(done: i + 1, total: iterations)
        }
        bar.finish()
        times.sort()
        let mean = times.reduce(0, +) / Double(times.count)
        func ms(_ seconds: Double) -> String { String(format1: seconds * 1000) + " ms" }
        func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int((p * Double(times.count - 1)).rounded()))] }
        let weights = ranker.model.file.metadata.string(MetadataKey.generalWeights) ?? "?"
        print("model: \(ranker.model.file.path) (\(weights), hidden \(ranker.model.config.hiddenSize), \(ranker.model.config.numLayers) layers)")
        print("input: \(encoding.ids.count) tokens per forward pass; mode \(mode.mode.rawValue) = \(forwards) forward pass\(forwards == 1 ? "" : "es") per compare; threads \(threads.value)")
        print("compare: mean \(ms(mean))  p50 \(ms(percentile(0.5)))  p90 \(ms(percentile(0.9)))  min \(ms(times[0]))  (\(iterations) runs)")
        print("forward pass: mean \(ms(mean / Double(forwards)))  → \(String(format1: Double(forwards) / mean)) forward passes/s")
    }
}
