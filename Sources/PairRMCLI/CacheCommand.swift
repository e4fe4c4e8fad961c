import ArgumentParser
import PairRMStore

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List or prune converted models and downloaded checkpoints.",
        discussion: """
        Converted .prm files live in $PAIRRM_CACHE, else $XDG_CACHE_HOME/pairrm, else
        ~/.cache/pairrm, one per source commit (or local folder), recipe and converter
        version. Downloads live in the Hugging Face cache shared with the Python tools
        ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub); prune never
        touches it (use `huggingface-cli delete-cache`).
        """,
        subcommands: [List.self, Prune.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show converted models and downloaded repositories with their sizes.")

        func run() throws {
            let environment = StoreEnvironment()
            let store = ModelStore(environment: environment)
            print("converted models in \(store.converted.root):")
            let entries = store.converted.entries()
            if entries.isEmpty { print("  (none)") }
            for entry in entries {
                let stale = store.converted.staleReason(entry).map { "  [stale: \($0)]" } ?? ""
                print("  \(formatBytes(Int(entry.bytes)).padding(12))\(entry.recipe.padding(6))\(entry.source)  \(entry.path)\(stale)")
            }
            let hub = store.locator.hubCache
            print("downloaded repositories in \(hub.root) (shared with the Python tools):")
            let repositories = hub.repositories()
            if repositories.isEmpty { print("  (none)") }
            for repository in repositories {
                print("  \(formatBytes(Int(repository.bytes)).padding(12))\(repository.id)")
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove stale converted models (another converter version, or a local checkpoint that changed or is gone) and leftovers of interrupted conversions.")

        @Flag(help: "Remove every converted model, not only stale ones.")
        var all = false

        @Flag(help: "Only say what would be removed.")
        var dryRun = false

        func run() throws {
            let cache = ModelStore(environment: StoreEnvironment()).converted
            var removed = 0, freed: Int64 = 0
            for entry in cache.entries() {
                guard let reason = all ? "--all" : cache.staleReason(entry) else { continue }
                print("\(dryRun ? "would remove" : "removing") \(entry.path) (\(formatBytes(Int(entry.bytes))); \(reason))")
                if !dryRun {
                    do { try cache.remove(entry.path) } catch { printError("error: \(error)"); throw ExitCode(1) }
                }
                removed += 1
                freed += entry.bytes
            }
            for leftover in cache.abandonedTemporaryFiles() {
                print("\(dryRun ? "would remove" : "removing") \(leftover) (left by an interrupted conversion)")
                if !dryRun { try? cache.remove(leftover) }
                removed += 1
            }
            print("\(dryRun ? "would free" : "freed") \(formatBytes(Int(freed))) in \(removed) file\(removed == 1 ? "" : "s")")
        }
    }
}
