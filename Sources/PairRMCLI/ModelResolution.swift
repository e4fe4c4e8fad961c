import ArgumentParser
import PairRMConverter
import PairRMFormat
import PairRMHub
import PairRMStore

/// The help text of every `--model` option.
let modelHelp = ArgumentHelp("""
    A .prm file, a checkpoint folder, or a hub id (org/name or org/name@revision; \
    fetched, converted and cached on first use). Default: $PAIRRM_MODEL, else \(ModelLocator.publishedModel).
    """, valueName: "MODEL")

let recipeHelp = ArgumentHelp("Weight recipe when --model is a checkpoint or hub id: f32, f16, q8, q8a8 or q4.", valueName: "RECIPE")

/// `--model` to a `.prm` path: a file as it is; a checkpoint (a folder, the hub cache, LLM-Blender's
/// folder, else the network) converted once into the cache. Progress goes to stderr on a terminal.
func resolveModelFile(_ model: String?, recipe: String = "q8", quiet: Bool = false) throws -> String {
    guard let weights = WeightsRecipe(rawValue: recipe) else {
        throw ValidationError("--recipe must be one of \(WeightsRecipe.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(recipe)\")")
    }
    let environment = StoreEnvironment()
    let store = ModelStore(environment: environment)
    let conversionBar = ProgressBar(label: "converting", unit: "MB", unitScale: 1e6)
    let events = StoreEvents(
        note: { text in if !quiet { conversionBar.finish(); printError(text) } },
        conversion: { progress in
            guard !quiet else { return }
            conversionBar.update(done: progress.sourceBytesDone, total: progress.sourceBytesTotal, detail: progress.tensorName,
                                 force: progress.tensorIndex == progress.tensorCount)
        })
    defer { conversionBar.finish() }
    return try store.resolve(model, recipe: weights, fetch: hubFetcher(environment: environment, quiet: quiet), events: events).path
}

/// Fetches hub models with a download bar per file (bytes, rate, ETA).
func hubFetcher(environment: StoreEnvironment, quiet: Bool) -> HubFetcher {
    { id in
        let bars = DownloadBars(quiet: quiet)
        let client = HubClient(settings: HubSettings(environment: environment), cache: HubCache(root: environment.hubCacheRoot),
                               progress: { bars.update($0) }, note: { text in if !quiet { bars.finish(); printError(text) } })
        if !quiet { printError("fetching \(id) from \(client.settings.endpoint) into \(environment.hubCacheRoot)") }
        defer { bars.finish() }
        return try client.fetchSnapshot(id)
    }
}

/// One progress bar per downloaded file.
final class DownloadBars: @unchecked Sendable {
    let quiet: Bool
    var file = ""
    var bar: ProgressBar?

    init(quiet: Bool) { self.quiet = quiet }

    func update(_ progress: DownloadProgress) {
        guard !quiet else { return }
        if progress.file != file {
            bar?.finish()
            file = progress.file
            bar = ProgressBar(label: progress.file, unit: "MB", unitScale: 1e6)
        }
        bar?.update(done: Int(progress.bytesDone), total: Int(progress.bytesTotal), force: progress.bytesDone == progress.bytesTotal)
    }

    func finish() { bar?.finish() }
}

/// The container behind `--model` (resolved as above), opened for its structure only; a model
/// that cannot be found or read prints `<errorLabel>: …` and exits 1 (usage errors stay 64).
func openModelFileOrExit(_ model: String, recipe: String, errorLabel: String) throws -> ModelFile {
    do {
        return try ModelFile(path: try resolveModelFile(model, recipe: recipe))
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("\(errorLabel): \(error)")
        throw ExitCode(1)
    }
}
