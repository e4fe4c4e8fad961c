import PairRMFormat
import PairRMSchema

/// Outlier-channel decomposition for the int8/int4 recipes (LLM.int8-style, data-free).
///
/// Trained BERT-family encoders have a few hidden channels with very large LayerNorm gains or
/// biases. Every token's activation in those channels is then tens of times larger than the rest,
/// so a per-token int8 scale leaves the ordinary channels only a few levels: the failure of
/// ONNX Runtime's dynamic int8 on PairRM-like models. Here, for each LayerNorm whose output feeds
/// a quantized matrix (Q/K/V read the previous layer's output LayerNorm; the FFN's first matrix
/// reads the attention LayerNorm), the channels whose estimated magnitude |gain|·5 + |bias| exceeds
/// `ratio` × the median are marked; the consuming matrices get those input columns zeroed before
/// quantization and keep them in f32 as a small [outliers, out] tensor. At run time the marked
/// activation channels are masked out of the int8 product and added back in f32.
struct OutlierPlan {
    /// Channels whose estimate exceeds this multiple of the median are outliers.
    static let ratio: Float = 4
    /// At most this many per LayerNorm (the f32 side product must stay small).
    static let maxChannels = 32
    /// A LayerNorm output's magnitude estimate: a normalized value rarely exceeds 5 in size.
    static let normalizedBound: Float = 5

    /// Input channels per consumer key (see `consumerKey`), sorted ascending.
    var channels: [String: [Int]] = [:]

    /// No outlier handling (float recipes).
    init() {}

    static func consumerKey(layer: Int, ffn: Bool) -> String { "layer.\(layer).\(ffn ? "ffn_input" : "attention_input")" }

    /// The metadata key recording a consumer's outlier channels.
    static func metadataKey(_ consumer: String) -> String { "quantization.outlier_channels.\(consumer)" }

    /// Name of the f32 side tensor of a consuming weight.
    static func sideTensorName(_ weight: String) -> String { weight + ".outlier_columns" }

    static func outliers(gain: [Float], bias: [Float]) -> [Int] {
        let estimate = zip(gain, bias).map { abs($0) * normalizedBound + abs($1) }
        let median = estimate.sorted()[estimate.count / 2]
        guard median > 0 else { return [] }
        let marked = estimate.indices.filter { estimate[$0] > ratio * median }
        return Array(marked.sorted { estimate[$0] > estimate[$1] }.prefix(maxChannels)).sorted()
    }

    /// Which consumer a LayerNorm feeds, and which weights consume it.
    static func consumers(architecture: Architecture) -> [(norm: String, consumer: String, weights: [String])] {
        var result: [(String, String, [String])] = []
        for layer in 0..<architecture.numLayers {
            let names = TensorNames.Layer(layer)
            let inputNorm = layer == 0 ? TensorNames.embeddingNorm : TensorNames.Layer(layer - 1).outputNorm
            result.append((inputNorm, consumerKey(layer: layer, ffn: false),
                           names.attentionProjections.map(TensorNames.weight)))
            result.append((names.attentionNorm, consumerKey(layer: layer, ffn: true), [TensorNames.weight(names.intermediate)]))
        }
        return result
    }

    /// Reads every feeding LayerNorm (tiny tensors) before conversion starts, so the plan can
    /// size the side tensors.
    init(architecture: Architecture, weights: CheckpointWeights, sources: [String: SourceTensor]) throws {
        for (norm, consumer, _) in OutlierPlan.consumers(architecture: architecture) {
            func read(_ name: String) throws -> [Float] {
                let tensor = sources[name]!
                var values = [Float](repeating: 0, count: tensor.elementCount)
                try values.withUnsafeMutableBufferPointer { try weights.readFloat32(tensor, into: $0) }
                return values
            }
            let found = OutlierPlan.outliers(gain: try read(norm + ".weight"), bias: try read(norm + ".bias"))
            if !found.isEmpty { channels[consumer] = found }
        }
    }

    /// weight name → its consumer's outlier channels.
    func channels(forWeight architecture: Architecture) -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for (_, consumer, weights) in OutlierPlan.consumers(architecture: architecture) {
            guard let found = channels[consumer] else { continue }
            for weight in weights { result[weight] = found }
        }
        return result
    }
}
