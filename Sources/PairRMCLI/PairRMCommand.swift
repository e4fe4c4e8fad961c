import ArgumentParser
import PairRMFormat

@main
struct PairRMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairrm",
        abstract: "PairRM-Swift: score answers with the PairRM reward model; fetch, convert, inspect and verify its .prm files.",
        discussion: """
        Typical use (the published model is fetched, converted and cached on first use):
          echo '{"prompt":"2+2?","candidates":["4","5","four"]}' | pairrm rank
          pairrm compare --model llm-blender/PairRM --input pairs.jsonl
          pairrm download llm-blender/PairRM --dir PairRM     # for an offline machine
          pairrm convert ./PairRM -o pairrm-q8.prm --weights q8
          pairrm inspect pairrm-q8.prm
          pairrm cache list

        --model takes a .prm file, a checkpoint folder, or a hub id (org/name[@revision]),
        looked for in that order: the path; the Hugging Face cache ($HF_HUB_CACHE, else
        $HF_HOME/hub, else ~/.cache/huggingface/hub); LLM-Blender's download folder; the
        hub (not with HF_HUB_OFFLINE=1). Default: $PAIRRM_MODEL, else llm-blender/PairRM.

        Exit codes: 0 success; 1 the input was bad or a check failed (the message
        names the file, the field and the fix); 64 the command line was wrong.
        """,
        version: PairRMVersion.string,
        subcommands: [CompareCommand.self, RankCommand.self, BestOfNCommand.self, CompareConversationsCommand.self,
                      ServeCommand.self, DownloadCommand.self, ConvertCommand.self, CacheCommand.self, InspectCommand.self, VerifyCommand.self,
                      TokenizeCommand.self, BenchCommand.self]
    )
}
