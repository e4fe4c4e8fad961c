import PairRMFormat
import PairRMKernels
import PairRMSchema

/// Every tensor the forward pass reads, resolved once at load: pointers into the container.
final class EncoderWeights: @unchecked Sendable {
    struct Layer {
        let query: LinearWeight
        let key: LinearWeight
        let value: LinearWeight
        let attentionOutput: LinearWeight
        let attentionNormGain: UnsafePointer<Float>
        let attentionNormBias: UnsafePointer<Float>
        let intermediate: LinearWeight
        let output: LinearWeight
        let outputNormGain: UnsafePointer<Float>
        let outputNormBias: UnsafePointer<Float>
    }

    enum Embeddings {
        case f32(UnsafePointer<Float>)
        case f16(UnsafePointer<UInt16>)
        /// scales, then int8 rows at `rowsOffset`
        case q8Rows(scales: UnsafePointer<Float>, rows: UnsafePointer<Int8>)
    }

    let file: ModelFile
    let config: ModelConfig
    let embeddings: Embeddings
    let embeddingNormGain: UnsafePointer<Float>
    let embeddingNormBias: UnsafePointer<Float>
    let layers: [Layer]
    let head1: UnsafePointer<Float>       // [H, 2H]
    let head1Bias: UnsafePointer<Float>   // [H]
    let head2: UnsafePointer<Float>       // [1, H]
    let head2Bias: UnsafePointer<Float>   // [1]

    /// The activation width of each matrix kind with Q8_P16B32 weights.
    let activationPlan: ActivationPlan

    /// - Parameter activationPlan: overrides the file's `quantization.activations` (studies and
    ///   benchmarks compare plans on one file); nil reads the file's.
    init(file: ModelFile, config: ModelConfig, activationPlan: ActivationPlan? = nil) throws {
        self.file = file
        self.config = config
        let plan = try activationPlan ?? ActivationPlan(file: file)
        self.activationPlan = plan
        let h = config.hiddenSize, i = config.intermediateSize

        func tensor(_ name: String, _ shape: [Int], allowed: Set<DType>) throws -> (TensorInfo, UnsafeRawPointer) {
            guard let info = file.tensor(named: name) else {
                throw RuntimeError(.missingTensor, file: file.path, field: "tensor '\(name)'", problem: "is missing",
                                   fix: "re-convert the model with `pairrm convert`")
            }
            guard info.shape == shape, allowed.contains(info.dtype) else {
                throw RuntimeError(.wrongTensor, file: file.path, field: "tensor '\(name)'",
                                   problem: "is \(info.dtype) \(info.shape), expected one of \(allowed.map(\.description).sorted()) \(shape)",
                                   fix: "re-convert the model with this version of `pairrm convert`")
            }
            return (info, file.data(of: info).baseAddress ?? UnsafeRawPointer(bitPattern: 64)!)
        }
        func f32(_ name: String, _ shape: [Int]) throws -> UnsafePointer<Float> {
            try tensor(name, shape, allowed: [.f32]).1.assumingMemoryBound(to: Float.self)
        }
        /// Outlier input channels of a consumer (metadata written by the converter for q8/q4).
        func outlierChannels(_ consumer: String) throws -> [Int]? {
            guard let value = file.metadata["quantization.outlier_channels.\(consumer)"] else { return nil }
            guard case .array(let items) = value else {
                throw RuntimeError(.wrongTensor, file: file.path, field: "metadata.quantization.outlier_channels.\(consumer)",
                                   problem: "is not an array of channel indices", fix: "re-convert the model")
            }
            return try items.map { item in
                guard case .int(let channel) = item, channel >= 0, channel < Int64(h) else {
                    throw RuntimeError(.wrongTensor, file: file.path, field: "metadata.quantization.outlier_channels.\(consumer)",
                                       problem: "holds \(item), not a channel index below \(h)", fix: "re-convert the model")
                }
                return Int(channel)
            }
        }
        func linear(_ prefix: String, _ matrix: ActivationPlan.Matrix, out: Int, in inFeatures: Int,
                    outliers channels: [Int]? = nil) throws -> LinearWeight {
            let (info, pointer) = try tensor(prefix + ".weight", [out, inFeatures], allowed: [.f32, .f16, .q8P16, .q8P16B32, .q4P16B32])
            let bytes = pointer.assumingMemoryBound(to: UInt8.self)
            let storage: LinearWeight.Storage = switch info.dtype {
            case .f32: .f32(pointer.assumingMemoryBound(to: Float.self))
            case .f16: .f16(pointer.assumingMemoryBound(to: UInt16.self))
            case .q8P16: .q8p16(bytes)
            case .q8P16B32: .q8p16b32(bytes)
            default: .q4p16b32(bytes)
            }
            var outliers: (channels: [Int], columns: UnsafePointer<Float>)? = nil
            if let channels, [DType.q8P16, .q8P16B32, .q4P16B32].contains(info.dtype) {
                outliers = (channels, try f32(prefix + ".weight.outlier_columns", [channels.count, out]))
            }
            return LinearWeight(storage: storage, outFeatures: out, inFeatures: inFeatures, bias: try f32(prefix + ".bias", [out]),
                                outliers: outliers, width: plan.width(of: matrix))
        }

        let (embeddingInfo, embeddingPointer) = try tensor(TensorNames.wordEmbeddings,
                                                           [config.vocabSize, h], allowed: [.f32, .f16, .q8Rows])
        switch embeddingInfo.dtype {
        case .f32: embeddings = .f32(embeddingPointer.assumingMemoryBound(to: Float.self))
        case .f16: embeddings = .f16(embeddingPointer.assumingMemoryBound(to: UInt16.self))
        default:
            let layout = QuantLayout.q8Rows(rows: config.vocabSize, columns: h)!
            embeddings = .q8Rows(scales: embeddingPointer.assumingMemoryBound(to: Float.self),
                                 rows: (embeddingPointer + layout.stride).assumingMemoryBound(to: Int8.self))
        }
        embeddingNormGain = try f32(TensorNames.weight(TensorNames.embeddingNorm), [h])
        embeddingNormBias = try f32(TensorNames.bias(TensorNames.embeddingNorm), [h])
        var layers: [Layer] = []
        for index in 0..<config.numLayers {
            let names = TensorNames.Layer(index)
            let attentionOutliers = try outlierChannels("layer.\(index).attention_input")
            let ffnOutliers = try outlierChannels("layer.\(index).ffn_input")
            layers.append(Layer(
                query: try linear(names.query, .attentionInput, out: h, in: h, outliers: attentionOutliers),
                key: try linear(names.key, .attentionInput, out: h, in: h, outliers: attentionOutliers),
                value: try linear(names.value, .attentionInput, out: h, in: h, outliers: attentionOutliers),
                attentionOutput: try linear(names.attentionOutput, .attentionOutput, out: h, in: h),
                attentionNormGain: try f32(TensorNames.weight(names.attentionNorm), [h]),
                attentionNormBias: try f32(TensorNames.bias(names.attentionNorm), [h]),
                intermediate: try linear(names.intermediate, .ffnInput, out: i, in: h, outliers: ffnOutliers),
                output: try linear(names.output, .ffnOutput, out: h, in: i),
                outputNormGain: try f32(TensorNames.weight(names.outputNorm), [h]),
                outputNormBias: try f32(TensorNames.bias(names.outputNorm), [h])))
        }
        self.layers = layers
        head1 = try f32(TensorNames.weight(TensorNames.headHidden), [h, 2 * h])
        head1Bias = try f32(TensorNames.bias(TensorNames.headHidden), [h])
        head2 = try f32(TensorNames.weight(TensorNames.headOutput), [1, h])
        head2Bias = try f32(TensorNames.bias(TensorNames.headOutput), [1])
    }

    /// Writes the f32 embedding row of `id` into `destination` (hidden floats).
    func embed(_ id: Int, into destination: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        switch embeddings {
        case .f32(let table):
            destination.update(from: table + id * h, count: h)
        case .f16(let table):
            prm_f16_to_f32(table + id * h, destination, Int64(h))
        case .q8Rows(let scales, let rows):
            let scale = scales[id]
            for column in 0..<h { destination[column] = scale * Float(rows[id * h + column]) }
        }
    }
}
