import ArgumentParser
import PairRMFormat

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum of a .prm file: header, section table, every section and every tensor.",
        discussion: """
        Reads the whole file once. Exits 0 only when every checksum holds; otherwise
        prints each failure (file, field, what is wrong) and exits 1.

        Example:
          pairrm verify pairrm-q8.prm && echo intact
        """
    )

    @Argument(help: "The .prm file, or a checkpoint folder or hub id (its cached conversion; see --recipe).")
    var model: String

    @Option(name: .long, help: recipeHelp)
    var recipe: String = "q8"

    @Flag(name: .shortAndLong, help: "Print only failures.")
    var quiet = false

    func run() throws {
        let file = try openModelFileOrExit(model, recipe: recipe, errorLabel: "FAILED")
        let bar = ProgressBar(label: "verifying", unit: "MB", unitScale: 1e6)
        let failures = file.verifyAll { done, total in bar.update(done: done, total: total, detail: "") }
        bar.finish()
        for failure in failures { printError("FAILED: \(failure)") }
        guard failures.isEmpty else { throw ExitCode(1) }
        if !quiet {
            print("OK: \(model): header, \(file.sections.count) sections and \(file.tensors.count) tensor checksums verified")
        }
    }
}
