import ArgumentParser
import Foundation
import PairRMHub
import PairRMStore

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Fetch a PairRM checkpoint from the Hugging Face hub into the shared cache (and optionally a folder to copy elsewhere).",
        discussion: """
        Downloads what conversion needs (config.json, spm.model, added_tokens.json,
        model.safetensors or pytorch_model.bin, and the small tokenizer and ranker
        configs; about 1.75 GB for llm-blender/PairRM) into the Hugging Face cache
        that the Python tools share: $HF_HUB_CACHE, else $HF_HOME/hub, else
        ~/.cache/huggingface/hub. Files already there are not fetched again; an
        interrupted download resumes where it stopped. Unlike --model, this always
        asks the hub which commit the revision points at now.

        For a machine without internet: download here with --dir, copy the folder,
        and on the other machine pass it as --model (it is converted there once):
          pairrm download llm-blender/PairRM --dir PairRM
          scp -r PairRM other: && ssh other pairrm rank --model PairRM < answers.jsonl
        (`huggingface-cli download llm-blender/PairRM --local-dir PairRM` does the same.)

        Environment: HF_ENDPOINT (a mirror), HF_TOKEN (private or gated models; sent
        to the hub's own host only), HTTPS_PROXY / NO_PROXY, HF_HUB_OFFLINE=1 (refuse
        to use the network).

        Exit codes: 0 success; 1 the hub refused or the transfer failed (the message
        names the repository, the file and the fix); 64 usage error.
        """
    )

    @Argument(help: ArgumentHelp("Hub id: org/name (e.g. \(ModelLocator.publishedModel)) or org/name@revision.", valueName: "org/name"))
    var repository: String

    @Option(help: "Branch, tag or commit (default: main, or what @revision says).")
    var revision: String?

    @Option(help: ArgumentHelp("Also put real copies of the files in this folder (hard links where possible).", valueName: "DIR"))
    var dir: String?

    @Flag(name: .shortAndLong, help: "No progress bars.")
    var quiet = false

    func hubID() throws -> HubModelID {
        guard var id = HubModelID(repository) else {
            throw ValidationError("\"\(repository)\" is not a hub id: expected org/name or org/name@revision, e.g. \(ModelLocator.publishedModel)")
        }
        if let revision {
            guard let withRevision = HubModelID(id.repo + "@" + revision) else { throw ValidationError("--revision \"\(revision)\" is not a valid revision") }
            if id.revisionGiven, id.revision != revision { throw ValidationError("the revision is given twice (@\(id.revision) and --revision \(revision))") }
            id = withRevision
        }
        return id
    }

    func validate() throws { _ = try hubID() }

    func run() throws {
        let id = try hubID()
        let environment = StoreEnvironment()
        do {
            let snapshot = try hubFetcher(environment: environment, quiet: quiet)(id)
            if let dir {
                try copySnapshot(snapshot.folder, to: dir)
                print("\(id) (commit \(snapshot.commit)) is in \(dir); convert it with `pairrm convert \(dir) -o pairrm-q8.prm` or pass --model \(dir)")
            } else {
                print("\(id) (commit \(snapshot.commit)) is in \(snapshot.folder); use it as --model \(id)")
            }
        } catch let error as StoreError {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }

    /// Real files (not the cache's symlinks) so the folder can be copied to another machine.
    func copySnapshot(_ snapshot: String, to dir: String) throws {
        try FileSystem.createDirectory(dir)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: snapshot)) ?? []
        for name in names.sorted() {
            let source = (snapshot + "/" + name as NSString).resolvingSymlinksInPath
            let target = dir + "/" + name
            unlink(target)
            if link(source, target) != 0 {
                do {
                    try FileManager.default.copyItem(atPath: source, toPath: target)
                } catch {
                    throw StoreError(.cacheIO, "cannot copy \(name) into \(dir): \(error.localizedDescription); check free space and permissions")
                }
            }
        }
    }
}
