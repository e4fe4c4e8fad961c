import ArgumentParser
import PairRM

struct BestOfNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "best-of-n",
        abstract: "Pick the best (or worst) candidate per prompt (LLM-Blender's get_best_of_n / get_worst_of_n).",
        discussion: """
        Input line:  {"id": 3, "prompt": "...", "candidates": ["...", "...", "..."],
                      "instruction": "..."}
        Output line: {"id": 3, "best": "the chosen text", "index": 1}
                     (--worst: "worst" instead of "best")
                     --all adds "order": [1, 0, 2] (LLM-Blender's return_all, as
                     indices)

        --strategy bubble (default, LLM-Blender's): one bubble pass over a start
          order, 2(n−1) forward passes; the winner of each [A,B]+[B,A] comparison is
          carried on. "order" is the winner then the loser of each step. Each line's
          start order is a pseudo-random permutation (like LLM-Blender's
          torch.randperm) drawn from --seed (default 0) and the line number, so a run
          is repeatable: the same input and seed give the same output. --start-order
          2,0,1 fixes the start order instead; it applies to EVERY line, so each line
          must have exactly that many candidates (a line with another count is a bad
          line: "line N: the line has 4 candidates but --start-order lists 3 …").
        --strategy full: rank all ordered pairs, then take the best rank (ties: lowest
          index); at most \(maxFullCandidates) candidates per line.

        \(jsonLinesDiscussion)

        Examples:
          echo '{"prompt":"Say hi","candidates":["hi","hello there","go away"]}' |
              pairrm best-of-n --model pairrm-q8.prm
          pairrm best-of-n --strategy full --all < samples.jsonl
          pairrm best-of-n --worst --start-order 0,1,2,3 < samples.jsonl
        """
    )

    @OptionGroup var ranker: RankerArguments
    @OptionGroup var lines: LineArguments

    enum Strategy: String, ExpressibleByArgument, CaseIterable { case bubble, full }

    @Option(name: .long, help: "bubble (default, 2(n−1) forward passes) or full (n(n−1)).")
    var strategy: Strategy = .bubble

    @Option(name: .long, help: ArgumentHelp("Bubble start order for every line, e.g. 2,0,1 (default: drawn from --seed).", valueName: "i,j,…"))
    var startOrder: String?

    @Option(name: .long, help: ArgumentHelp("Seed of the bubble start orders (default 0): the same input and seed give the same output.",
                                            valueName: "N"))
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Pick the worst candidate instead (get_worst_of_n).")
    var worst = false

    @Flag(name: .long, help: "Add \"order\": every candidate index (LLM-Blender's return_all).")
    var all = false

    func validate() throws {
        if startOrder != nil, strategy != .bubble { throw ValidationError("--start-order needs --strategy bubble") }
        if let startOrder {
            let order = try parseOrder(startOrder)
            guard order.sorted() == Array(0..<order.count) else {
                throw ValidationError("--start-order must list each index 0…\(order.count - 1) exactly once (got \(startOrder))")
            }
        }
    }

    func run() throws {
        let selection: SelectionStrategy = strategy == .full ? .full : .bubble(startOrder: try startOrder.map(parseOrder))
        try runJSONLines(task: .select(strategy: selection, worst: worst, returnAll: all), ranker: ranker, lines: lines,
                         label: worst ? "worst-of-n" : "best-of-n", seed: seed)
    }
}
