import PairRMFormat

/// The architecture numbers the encoder needs, read from the container's metadata.
public struct ModelConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    public var layerNormEps: Float
    public var positionBuckets: Int
    public var maxRelativePositions: Int
    public var sourcePrefixID: Int32
    public var candidate1PrefixID: Int32
    public var candidate2PrefixID: Int32

    public var headSize: Int { hiddenSize / numHeads }
    /// Rows of the relative table = 2 × buckets (attention span 256 each side for PairRM).
    public var relativeRows: Int { 2 * positionBuckets }

    init(metadata: Metadata, file: String) throws {
        func int(_ key: String) throws -> Int {
            guard let value = metadata.int(key), value > 0, value < Int64(Int32.max) else {
                throw RuntimeError(.unsupportedModel, file: file, field: "metadata.\(key)",
                                   problem: "is missing or not a positive integer",
                                   fix: "re-convert the model with `pairrm convert`")
            }
            return Int(value)
        }
        guard metadata.string("general.architecture") == "pairrm-deberta-v2" else {
            throw RuntimeError(.unsupportedModel, file: file, field: "metadata.general.architecture",
                               problem: "is \(metadata.string("general.architecture") ?? "missing"), not pairrm-deberta-v2",
                               fix: "this file does not hold a PairRM model; convert one with `pairrm convert`")
        }
        hiddenSize = try int("model.hidden_size")
        numLayers = try int("model.num_layers")
        numHeads = try int("model.num_heads")
        intermediateSize = try int("model.intermediate_size")
        vocabSize = try int("model.vocab_size")
        positionBuckets = try int("model.position_buckets")
        maxRelativePositions = try int("model.max_relative_positions")
        layerNormEps = Float(metadata.double("model.layer_norm_eps") ?? 1e-7)
        sourcePrefixID = Int32(try int("tokens.source_prefix_id"))
        candidate1PrefixID = Int32(try int("tokens.candidate1_prefix_id"))
        candidate2PrefixID = Int32(try int("tokens.candidate2_prefix_id"))
        guard hiddenSize % numHeads == 0 else {
            throw RuntimeError(.unsupportedModel, file: file, field: "metadata.model.num_heads",
                               problem: "\(numHeads) heads do not divide hidden size \(hiddenSize)", fix: "re-convert the model")
        }
    }
}
