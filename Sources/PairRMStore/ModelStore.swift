import PairRMConverter

/// A model ready to load, and where it came from.
public struct ResolvedModel: Sendable, Equatable {
    /// The `.prm` file to load.
    public var path: String
    /// What the user asked for, as it resolved ("llm-blender/PairRM@<commit>", a folder, a file).
    public var source: String
}

/// Fetches a hub model into the hub cache and returns its complete snapshot. PairRMHub supplies
/// one; without it the store works offline.
public typealias HubFetcher = @Sendable (HubModelID) throws -> (folder: String, commit: String)

/// From a `--model` value to a `.prm` file: locate it (path, hub cache, LLM-Blender's folder),
/// fetch it if a fetcher is given and nothing local answers, convert checkpoints once into the
/// converted-model cache.
public struct ModelStore: Sendable {
    public let locator: ModelLocator
    public let converted: ConvertedModelCache

    public init(environment: StoreEnvironment = StoreEnvironment()) {
        locator = ModelLocator(environment: environment)
        converted = ConvertedModelCache(root: environment.convertedCacheRoot)
    }

    /// `model` nil means $PAIRRM_MODEL, else the published PairRM. `recipe` applies when the model
    /// is a checkpoint (a `.prm` file already has one).
    public func resolve(_ model: String?, recipe: WeightsRecipe = .q8, fetch: HubFetcher? = nil,
                        events: StoreEvents = .silent) throws -> ResolvedModel {
        let name = model ?? locator.environment.defaultModel
        switch try locator.locate(name) {
        case .modelFile(let path):
            return ResolvedModel(path: path, source: path)
        case .checkpoint(let directory, let origin):
            return try convert(directory: directory, origin: origin, recipe: recipe, events: events)
        case .hubNotCached(let id):
            guard let fetch else {
                throw locator.notCachedError(id, reason: "this build has no network access (the hub client is part of the pairrm command, not of the library)")
            }
            if locator.environment.offline { throw locator.notCachedError(id, reason: "HF_HUB_OFFLINE is set") }
            let snapshot = try fetch(id)
            return try convert(directory: snapshot.folder, origin: .hub(id, commit: snapshot.commit), recipe: recipe, events: events)
        }
    }

    func convert(directory: String, origin: CheckpointOrigin, recipe: WeightsRecipe, events: StoreEvents) throws -> ResolvedModel {
        let description: String
        switch origin {
        case .hub(let id, let commit): description = id.revision == commit ? "\(id.repo)@\(commit)" : "\(id) (commit \(commit.prefix(10)))"
        case .folder(let folder): description = folder
        }
        let path = try converted.file(converting: directory, origin: origin, recipe: recipe, description: description, events: events)
        return ResolvedModel(path: path, source: description)
    }
}
