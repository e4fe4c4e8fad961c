import ArgumentParser
import PairRM

struct CompareConversationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-conversations",
        abstract: "Compare two multi-turn conversations (LLM-Blender's Blender.compare_conversations).",
        discussion: """
        Input line:  {"id": 1,
                      "a": [{"role": "USER", "content": "hello"},
                            {"role": "ASSISTANT", "content": "hi"}],
                      "b": [{"role": "USER", "content": "hello"},
                            {"role": "ASSISTANT", "content": "go away"}]}
        Output line: {"id": 1, "logit": 0.42, "a_better": true}

        Rules (checked like LLM-Blender): an even number of turns, "USER" on even
        turns and "ASSISTANT" on odd turns (any case: "user" is read as "USER"), the same number of
        turns in a and b, and the same USER turns. The conversations become
        LLM-Blender's template: the instruction "Finish the following coversation in
        each i-th turn by filling in <Response i> with your response." (its typo
        included), the USER turns as the prompt and "<Response t>: …" lines as the
        candidates; then as `pairrm compare` (see --mode there).

        \(jsonLinesDiscussion)

        Examples:
          pairrm compare-conversations --model pairrm-q8.prm --input chats.jsonl
          pairrm compare-conversations --mode ab --on-error skip < chats.jsonl
        """
    )

    @OptionGroup var ranker: RankerArguments
    @OptionGroup var lines: LineArguments

    @Option(name: .long, help: "both = [A,B]+[B,A] (default), ab = [A,B], ba = [B,A].")
    var mode: CompareModeArgument = .both

    func run() throws {
        try runJSONLines(task: .compareConversations(mode: mode.mode), ranker: ranker, lines: lines, label: "compare-conversations")
    }
}
