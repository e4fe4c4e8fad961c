import ArgumentParser

@main
struct PairRMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairrm",
        abstract: "PairRM-Swift: convert, inspect and verify PairRM reward models in the .prm container.",
        discussion: """
        Typical use:
          pairrm convert ./PairRM -o pairrm-q8.prm --weights q8
          pairrm inspect pairrm-q8.prm
          pairrm verify pairrm-q8.prm

        Exit codes: 0 success; 1 the input was bad or a check failed (the message
        names the file, the field and the fix); 64 the command line was wrong.
        """,
        subcommands: [ConvertCommand.self, InspectCommand.self, VerifyCommand.self, TokenizeCommand.self,
                      CompareCommand.self, RankCommand.self, BestOfNCommand.self, CompareConversationsCommand.self, BenchCommand.self]
    )
}
