import PairRMFormat
import PairRMSchema

/// The published tensor set of PairRM (Formats/pairrm-model.md §1.6), generated from the architecture
/// numbers, in the canonical order the converter writes them. Each tensor has a class that the
/// quantization recipe maps to a stored type.
public struct ExpectedTensor: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        /// word_embeddings: read by row lookup
        case embedding
        /// Linear weights inside the encoder: the GEMMs
        case linear
        /// LayerNorm gains and biases
        case norm
        /// Linear biases
        case bias
        /// The relative-position table (used once per load to build position projections)
        case relEmbedding = "rel_embedding"
        /// The PairRM head (2048→H→1): small and sensitive, kept exact
        case head
        /// Derived at conversion: LN(rel_embeddings)·W{q,k}ᵀ + b per layer (input-independent)
        case positionProjection = "position_projection"
        /// Derived for q8/q4: the f32 input columns of outlier channels, [outliers, out] (OutlierPlan)
        case outlierColumns = "outlier_columns"
    }

    public var name: String
    public var shape: [Int]
    public var role: Role
}

public struct Architecture: Sendable, Equatable {
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    /// Rows of the relative-embedding table: 2 × position_buckets.
    public var relativeRows: Int
    public var nTasks: Int

    public var expectedTensors: [ExpectedTensor] {
        let h = hiddenSize, i = intermediateSize
        var list: [ExpectedTensor] = [
            .init(name: TensorNames.wordEmbeddings, shape: [vocabSize, h], role: .embedding),
            .init(name: TensorNames.weight(TensorNames.embeddingNorm), shape: [h], role: .norm),
            .init(name: TensorNames.bias(TensorNames.embeddingNorm), shape: [h], role: .norm),
            // The relative table comes early so the position projections can be derived while
            // each layer's query/key weights stream past (see DerivedTensors).
            .init(name: TensorNames.relativeEmbeddings, shape: [relativeRows, h], role: .relEmbedding),
            .init(name: TensorNames.weight(TensorNames.relativeNorm), shape: [h], role: .norm),
            .init(name: TensorNames.bias(TensorNames.relativeNorm), shape: [h], role: .norm),
        ]
        for index in 0..<numLayers {
            let layer = TensorNames.Layer(index)
            for projection in layer.attentionProjections {
                list.append(.init(name: TensorNames.weight(projection), shape: [h, h], role: .linear))
                list.append(.init(name: TensorNames.bias(projection), shape: [h], role: .bias))
            }
            list += [
                .init(name: TensorNames.weight(layer.attentionOutput), shape: [h, h], role: .linear),
                .init(name: TensorNames.bias(layer.attentionOutput), shape: [h], role: .bias),
                .init(name: TensorNames.weight(layer.attentionNorm), shape: [h], role: .norm),
                .init(name: TensorNames.bias(layer.attentionNorm), shape: [h], role: .norm),
                .init(name: TensorNames.weight(layer.intermediate), shape: [i, h], role: .linear),
                .init(name: TensorNames.bias(layer.intermediate), shape: [i], role: .bias),
                .init(name: TensorNames.weight(layer.output), shape: [h, i], role: .linear),
                .init(name: TensorNames.bias(layer.output), shape: [h], role: .bias),
                .init(name: TensorNames.weight(layer.outputNorm), shape: [h], role: .norm),
                .init(name: TensorNames.bias(layer.outputNorm), shape: [h], role: .norm),
            ]
        }
        list += [
            .init(name: TensorNames.weight(TensorNames.headHidden), shape: [h, 2 * h], role: .head),
            .init(name: TensorNames.bias(TensorNames.headHidden), shape: [h], role: .head),
            .init(name: TensorNames.weight(TensorNames.headOutput), shape: [nTasks, h], role: .head),
            .init(name: TensorNames.bias(TensorNames.headOutput), shape: [nTasks], role: .head),
        ]
        return list
    }
}

/// Which stored type each tensor role gets, per `--weights` choice. LayerNorms, biases, the
/// relative table and the head stay f32 in every recipe: they are tiny and errors there move
/// every logit.
public enum WeightsRecipe: String, Sendable, CaseIterable {
    /// q8a8 stores exactly q8's tensors; only the activation plan it records differs (W8A8: int8
    /// activations, twice the integer rate on VNNI/dotprod, less faithful: README "Fidelity").
    case f32, f16, q8, q8a8, q4

    /// Whether activations are quantized (so outlier channels are split out at conversion).
    public var quantizesActivations: Bool { self == .q8 || self == .q8a8 || self == .q4 }

    /// What `quantization.activations` records for Q8_P16B32 weights; nil for recipes without them.
    public var activationPlan: ActivationPlan? {
        switch self {
        case .q8: .all(.int16)
        case .q8a8: .all(.int8)
        default: nil
        }
    }

    public func dtype(for role: ExpectedTensor.Role) -> DType {
        switch (self, role) {
        case (_, .norm), (_, .bias), (_, .relEmbedding), (_, .head), (_, .outlierColumns): .f32
        case (.f32, _): .f32
        case (_, .positionProjection): .f16
        case (.f16, _): .f16
        // q8 keeps the embeddings f16: with outlier channels, the embedding LayerNorm's large gains
        // amplify per-row int8 error (measured: Pearson of scores 0.94 -> 0.998 on the outlier
        // checkpoint); only looked-up rows become resident, so this costs file size, not memory.
        case (.q8, .embedding), (.q8a8, .embedding): .f16
        case (.q4, .embedding): .q8Rows
        case (.q8, .linear), (.q8a8, .linear): .q8P16B32
        case (.q4, .linear): .q4P16B32
        }
    }

    /// `"<role>=<DTYPE>"` rules, recorded in the file's `quantization.recipe`.
    public var rules: [String] {
        ExpectedTensor.Role.allCases.map { "\($0.rawValue)=\(dtype(for: $0))" }
    }
}
