import ArgumentParser
import PairRM

enum CompareModeArgument: String, ExpressibleByArgument, CaseIterable {
    case both, ab, ba
    var mode: CompareMode { self == .both ? .both : self == .ab ? .ab : .ba }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two candidate answers per prompt (LLM-Blender's Blender.compare).",
        discussion: """
        Input line:  {"id": 7, "prompt": "...", "a": "...", "b": "...",
                      "instruction": "..."}
                     ("instruction" and "id" are optional; the model sees
                     instruction + prompt, no separator)
        Output line: {"id": 7, "logit": 1.234, "a_better": true}

        --mode both (default, LLM-Blender's "[A,B]+[B,A]"): logit = L(a,b) − L(b,a),
        two forward passes, cancels PairRM's position bias. --mode ab: logit = L(a,b).
        --mode ba: logit = L(b,a), NOT negated (LLM-Blender's value; > 0 means B is
        better there). "a_better" is always about A: in ba mode it is logit < 0. An
        exact 0 logit is a tie: a_better false.

        \(jsonLinesDiscussion)

        Examples:
          echo '{"prompt":"hello!","a":"hi!","b":"go away"}' |
              pairrm compare --model pairrm-q8.prm
          pairrm compare --input pairs.jsonl --threads 8 > verdicts.jsonl
          PAIRRM_MODEL=pairrm-q8.prm pairrm compare --mode ab < pairs.jsonl
        """
    )

    @OptionGroup var ranker: RankerArguments
    @OptionGroup var lines: LineArguments

    @Option(name: .long, help: "both = [A,B]+[B,A] (default), ab = [A,B], ba = [B,A].")
    var mode: CompareModeArgument = .both

    func run() throws {
        try runJSONLines(task: .compare(mode: mode.mode), ranker: ranker, lines: lines, label: "compare")
    }
}
