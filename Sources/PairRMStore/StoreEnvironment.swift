import Foundation

/// The environment variables that decide where models are looked for and cached, read once and
/// passed around so that tests (and embedders) can supply their own.
public struct StoreEnvironment: Sendable {
    public var variables: [String: String]

    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
    }

    public subscript(name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    var home: String { self["HOME"] ?? NSHomeDirectory() }

    /// `~` and `~/…` expanded against $HOME, like the Python tools do.
    public func expandingTilde(_ path: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst(1) }
        return path
    }

    /// $XDG_CACHE_HOME, else ~/.cache.
    var cacheHome: String { self["XDG_CACHE_HOME"].map(expandingTilde) ?? home + "/.cache" }

    /// huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface.
    public var huggingFaceHome: String { self["HF_HOME"].map(expandingTilde) ?? cacheHome + "/huggingface" }

    /// The hub cache the Python tools share: $HF_HUB_CACHE (or the older $HUGGINGFACE_HUB_CACHE),
    /// else $HF_HOME/hub.
    public var hubCacheRoot: String {
        (self["HF_HUB_CACHE"] ?? self["HUGGINGFACE_HUB_CACHE"]).map(expandingTilde) ?? huggingFaceHome + "/hub"
    }

    /// LLM-Blender 0.0.2's `loadranker` downloads `org/name` with `snapshot_download(local_dir=…)`
    /// into transformers' cache folder: $TRANSFORMERS_CACHE/org/name, else the hub cache/org/name.
    public func llmBlenderFolder(for id: HubModelID) -> String {
        (self["TRANSFORMERS_CACHE"].map(expandingTilde) ?? hubCacheRoot) + "/" + id.repo
    }

    /// Where converted .prm files are kept: $PAIRRM_CACHE, else $XDG_CACHE_HOME/pairrm.
    public var convertedCacheRoot: String { self["PAIRRM_CACHE"].map(expandingTilde) ?? cacheHome + "/pairrm" }

    /// HF_HUB_OFFLINE as huggingface_hub reads it: 1, ON, YES or TRUE (any case).
    public var offline: Bool {
        guard let value = self["HF_HUB_OFFLINE"]?.uppercased() else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value)
    }

    /// The model used when none is named: $PAIRRM_MODEL, else the published PairRM.
    public var defaultModel: String { self["PAIRRM_MODEL"] ?? ModelLocator.publishedModel }
}
