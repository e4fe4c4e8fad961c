import ArgumentParser
import PairRM
import PairRMProtocol

enum RankStrategyArgument: String, ExpressibleByArgument, CaseIterable {
    case full, mergeSort = "merge-sort"
    var strategy: RankStrategy { self == .full ? .fullMatrix : .mergeSort }
}

enum ReferenceModeArgument: String, ExpressibleByArgument, CaseIterable {
    case longest, shortest, medianLength = "median_length", first, last
    var mode: ReferenceMode { ReferenceMode(rawValue: rawValue)! }
}

struct RankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Rank candidate answers per prompt (LLM-Blender's Blender.rank and rank_with_ref).",
        discussion: """
        Input line:  {"id": "q1", "prompt": "...", "candidates": ["...", "...", "..."],
                      "instruction": "..."}
        Output line: {"id": "q1", "scores": [0.21, -0.35, 0.14], "ranks": [1, 3, 2]}

        Ranks: 1 is best; tied scores share the best rank (e.g. [1, 1, 3]).
        --strategy full (default): LLM-Blender's rank, every ordered pair (n(n−1)
          forward passes), scores = mean over opponents of L(i,j) − L(j,i) (float32,
          NumPy's summation order); at most \(maxFullCandidates) candidates per line.
        --strategy merge-sort: ours, a merge sort on the [A,B]+[B,A] logit, at most
          about 2·n·log2(n) forward passes; no scores ("scores": null); the order can
          differ from full when PairRM's preferences are intransitive.
        --reference-mode MODE: LLM-Blender's rank_with_ref instead: each candidate is
          compared with a reference (longest, shortest, median_length, first or last
          candidate by Unicode code points, or the line's "reference" field), score =
          −compare(reference, candidate); the output adds "reference". A line's
          "reference" field is used only with --reference-mode (it then replaces the
          mode's pick); without --reference-mode such a line is a bad line.

        \(jsonLinesDiscussion)

        Examples:
          echo '{"prompt":"2+2?","candidates":["4","5","four"]}' |
              pairrm rank --model pairrm-q8.prm
          pairrm rank --input answers.jsonl --strategy merge-sort --batch-size 4
          pairrm rank --reference-mode longest < answers.jsonl
        """
    )

    @OptionGroup var ranker: RankerArguments
    @OptionGroup var lines: LineArguments

    @Option(name: .long, help: "full (LLM-Blender; at most \(maxFullCandidates) candidates per line) or merge-sort (fewer forward passes, no scores).")
    var strategy: RankStrategyArgument = .full

    @Option(name: .long, help: ArgumentHelp("Rank against a reference instead (rank_with_ref).",
                                            valueName: "longest|shortest|median_length|first|last"))
    var referenceMode: ReferenceModeArgument?

    func validate() throws {
        if referenceMode != nil, strategy != .full { throw ValidationError("--reference-mode and --strategy merge-sort do not combine") }
    }

    func run() throws {
        let task: LineTask = referenceMode.map { .rankWithReference(mode: $0.mode) } ?? .rank(strategy: strategy.strategy)
        try runJSONLines(task: task, ranker: ranker, lines: lines, label: "rank")
    }
}
