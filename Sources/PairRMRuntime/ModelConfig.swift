import PairRMFormat
import PairRMSchema

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
        guard metadata.string(MetadataKey.generalArchitecture) == "pairrm-deberta-v2" else {
            throw RuntimeError(.unsupportedModel, file: file, field: "metadata.general.architecture",
                               problem: "is \(metadata.string(MetadataKey.generalArchitecture) ?? "missing"), not pairrm-deberta-v2",
                               fix: "this file does not hold a PairRM model; convert one with `pairrm convert`")
        }
        hiddenSize = try int(MetadataKey.modelHiddenSize)
        numLayers = try int(MetadataKey.modelNumLayers)
        numHeads = try int(MetadataKey.modelNumHeads)
        intermediateSize = try int(MetadataKey.modelIntermediateSize)
        vocabSize = try int(MetadataKey.modelVocabSize)
        positionBuckets = try int(MetadataKey.modelPositionBuckets)
        maxRelativePositions = try int(MetadataKey.modelMaxRelativePositions)
        layerNormEps = Float(metadata.double(MetadataKey.modelLayerNormEps) ?? 1e-7)
        sourcePrefixID = Int32(try int(MetadataKey.tokensSourcePrefixId))
        candidate1PrefixID = Int32(try int(MetadataKey.tokensCandidate1PrefixId))
        candidate2PrefixID = Int32(try int(MetadataKey.tokensCandidate2PrefixId))
        guard layerNormEps.isFinite, layerNormEps > 0 else {
            throw RuntimeError(.unsupportedModel, file: file, field: "metadata.\(MetadataKey.modelLayerNormEps)",
                               problem: "\(layerNormEps) is not a positive finite number (LayerNorm would divide by zero or take the root of a negative)",
                               fix: "re-convert from a config whose layer_norm_eps is positive (DeBERTa-v3: 1e-7)")
        }
        guard hiddenSize % numHeads == 0 else {
            throw RuntimeError(.unsupportedModel, file: file, field: "metadata.model.num_heads",
                               problem: "\(numHeads) heads do not divide hidden size \(hiddenSize)", fix: "re-convert the model")
        }
    }
}
