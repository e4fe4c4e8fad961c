import Foundation

/// What a `--model` value turned out to be.
public enum ModelSource: Sendable, Equatable {
    /// A `.prm` file, used as it is.
    case modelFile(path: String)
    /// A checkpoint in the published layout, to be converted (once; the result is cached).
    case checkpoint(directory: String, origin: CheckpointOrigin)
    /// A hub id that no local copy answers: only the network can.
    case hubNotCached(HubModelID)
}

/// Where a checkpoint directory came from; it decides the converted file's cache key.
public enum CheckpointOrigin: Sendable, Equatable {
    /// A snapshot of the hub cache: keyed by repository and commit.
    case hub(HubModelID, commit: String)
    /// Any other folder (the user's, or LLM-Blender's download): keyed by its files' names,
    /// sizes and modification times.
    case folder(String)
}

/// The files of a published PairRM checkpoint that conversion reads (the rest of the repository —
/// README, tokenizer.json, training_args.bin — is never fetched).
public enum CheckpointFiles {
    public static let required = ["config.json", "spm.model", "added_tokens.json"]
    /// One of these holds the weights; the first present on the hub is used.
    public static let weights = ["model.safetensors", "pytorch_model.bin"]
    public static let optional = ["tokenizer_config.json", "special_tokens_map.json", "ranker_config.json"]

    /// Whether `folder` holds every file conversion needs.
    public static func isComplete(_ folder: String) -> Bool {
        required.allSatisfy { FileSystem.isRegularFile(folder + "/" + $0) }
            && weights.contains { FileSystem.isRegularFile(folder + "/" + $0) }
    }
}

/// Turns what the user wrote after `--model` into a source, in this order: an explicit path;
/// the Hugging Face cache that the Python tools share; LLM-Blender's own download folder; else
/// the hub (which this module never contacts: see PairRMHub).
public struct ModelLocator: Sendable {
    /// The model used when none is named and $PAIRRM_MODEL is unset.
    public static let publishedModel = "llm-blender/PairRM"

    public let environment: StoreEnvironment
    public let hubCache: HubCache

    public init(environment: StoreEnvironment = StoreEnvironment()) {
        self.environment = environment
        self.hubCache = HubCache(root: environment.hubCacheRoot)
    }

    public func locate(_ model: String) throws -> ModelSource {
        let path = environment.expandingTilde(model)
        if FileSystem.isDirectory(path) {
            guard FileSystem.isRegularFile(path + "/config.json") else {
                throw StoreError(.notACheckpoint, "\(model) is a folder but not a PairRM checkpoint (no config.json); pass a .prm file, a local copy of llm-blender/PairRM, or a hub id such as llm-blender/PairRM")
            }
            return .checkpoint(directory: path, origin: .folder(canonicalPath(path)))
        }
        if FileManager.default.fileExists(atPath: path) { return .modelFile(path: path) }
        guard !looksLikePath(model), let id = HubModelID(model) else {
            throw StoreError(.notFound, "\(model): no such file or folder, and not a hub id (org/name or org/name@revision); pass a .prm file, a checkpoint folder, or e.g. \(ModelLocator.publishedModel)")
        }
        if let snapshot = hubCache.completeSnapshot(id, required: CheckpointFiles.isComplete) {
            return .checkpoint(directory: snapshot.folder, origin: .hub(id, commit: snapshot.commit))
        }
        if !id.revisionGiven {
            let folder = environment.llmBlenderFolder(for: id)
            if CheckpointFiles.isComplete(folder) { return .checkpoint(directory: folder, origin: .folder(canonicalPath(folder))) }
        }
        return .hubNotCached(id)
    }

    /// Where a hub model was looked for, for the "not cached" error.
    public func searchedPlaces(for id: HubModelID) -> [String] {
        var places = [hubCache.repoFolder(id) + " (Hugging Face cache, \(id.revision))"]
        if !id.revisionGiven { places.append(environment.llmBlenderFolder(for: id) + " (LLM-Blender's download folder)") }
        return places
    }

    /// The error for a hub model that must come from the network when the network is not allowed.
    public func notCachedError(_ id: HubModelID, reason: String) -> StoreError {
        StoreError(.notCached, """
            \(id) is not in the cache (looked in \(searchedPlaces(for: id).joined(separator: "; "))) and \(reason). \
            Fetch it where the internet is: `pairrm download \(id.repo)\(id.revisionGiven ? " --revision \(id.revision)" : "") --dir PairRM` \
            (or `huggingface-cli download \(id.repo) --local-dir PairRM`), copy the folder here and pass --model PairRM
            """)
    }

    /// Hub ids never start like a path; "./org/name" is a missing local folder, not a repository.
    private func looksLikePath(_ text: String) -> Bool {
        text.hasPrefix("/") || text.hasPrefix(".") || text.hasPrefix("~") || text.hasSuffix(".prm") || text.hasSuffix(".zst")
    }

    func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
