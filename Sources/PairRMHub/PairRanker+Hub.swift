import PairRM
import PairRMConverter
import PairRMStore

extension PairRanker {
    /// Loads a model by what users call it, like `Blender.loadranker("llm-blender/PairRM")`:
    /// a `.prm` file, a checkpoint folder, or a hub id ("org/name", "org/name@revision") looked
    /// for in the Hugging Face cache and LLM-Blender's folder, else fetched from the hub (not
    /// with HF_HUB_OFFLINE=1). `nil` means $PAIRRM_MODEL, else llm-blender/PairRM. Checkpoints
    /// are converted with `recipe` once and cached (`$PAIRRM_CACHE`); later loads map the file.
    /// Embedders that must never touch the network use `ModelStore().resolve(_:recipe:)` from
    /// PairRMStore (cache only) and `PairRanker(path:)`.
    public convenience init(model: String? = nil, recipe: WeightsRecipe = .q8, options: RankerOptions? = nil,
                            environment: StoreEnvironment = StoreEnvironment(), events: StoreEvents = .silent) throws {
        let resolved = try ModelStore(environment: environment).resolve(model, recipe: recipe, fetch: { id in
            let client = HubClient(settings: HubSettings(environment: environment), cache: HubCache(root: environment.hubCacheRoot),
                                   note: events.note)
            return try client.fetchSnapshot(id)
        }, events: events)
        try self.init(path: resolved.path, options: options)
    }
}
