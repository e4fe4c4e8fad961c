/// PairRM's tensor names, spelled as the published checkpoints spell them and as `.prm` files keep
/// them (Formats/pairrm-model.md §1.4): one table that the converter (which expects and writes
/// them) and the runtime (which reads them) share. Matrices and LayerNorms are modules whose
/// tensors are `<module>.weight` and `<module>.bias`.
public enum TensorNames {
    public static let wordEmbeddings = "pretrained_model.embeddings.word_embeddings.weight"
    public static let embeddingNorm = "pretrained_model.embeddings.LayerNorm"
    public static let relativeEmbeddings = "pretrained_model.encoder.rel_embeddings.weight"
    /// The LayerNorm applied to the relative-embedding table (DeBERTa-v2 `norm_rel_ebd`).
    public static let relativeNorm = "pretrained_model.encoder.LayerNorm"
    /// The head: `head_layer.1` (2h → h) and `head_layer.4` (h → n_tasks).
    public static let headHidden = "head_layer.1"
    public static let headOutput = "head_layer.4"
    public static let layerPrefix = "pretrained_model.encoder.layer."

    public static func weight(_ module: String) -> String { module + ".weight" }
    public static func bias(_ module: String) -> String { module + ".bias" }

    /// The modules of encoder layer `index`.
    public struct Layer: Sendable {
        public let prefix: String
        public init(_ index: Int) { prefix = TensorNames.layerPrefix + "\(index)." }
        public var query: String { prefix + "attention.self.query_proj" }
        public var key: String { prefix + "attention.self.key_proj" }
        public var value: String { prefix + "attention.self.value_proj" }
        public var attentionProjections: [String] { [query, key, value] }
        public var attentionOutput: String { prefix + "attention.output.dense" }
        public var attentionNorm: String { prefix + "attention.output.LayerNorm" }
        public var intermediate: String { prefix + "intermediate.dense" }
        public var output: String { prefix + "output.dense" }
        public var outputNorm: String { prefix + "output.LayerNorm" }
    }
}
