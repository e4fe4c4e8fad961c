import PairRMFormat
import PairRMKernels
import PairRMSchema

extension Architecture {
    /// Tensors the converter derives and adds after the published ones.
    public var derivedTensors: [ExpectedTensor] {
        (0..<numLayers).flatMap { layer in
            [ExpectedTensor(name: PositionProjectionBuilder.queryName(layer), shape: [relativeRows, hiddenSize], role: .positionProjection),
             ExpectedTensor(name: PositionProjectionBuilder.keyName(layer), shape: [relativeRows, hiddenSize], role: .positionProjection)]
        }
    }
}

/// Builds each layer's position projections PQ = LN(R)·Wqᵀ + bq and PK = LN(R)·Wkᵀ + bk
/// (Formats/pairrm-model.md §3.4–§3.5, share_att_key) from the f32 source weights as they
/// stream past. They do not depend on the input, so computing them here makes them free at load and at every pair
/// (51.5 GFLOP at full size), and they come from the unquantized weights.
final class PositionProjectionBuilder {
    static func queryName(_ layer: Int) -> String { "pairrm.layer.\(layer).position_query" }
    static func keyName(_ layer: Int) -> String { "pairrm.layer.\(layer).position_key" }

    private let architecture: Architecture
    private let epsilon: Float
    private var table: [Float]?
    private var gain: [Float]?
    private var bias: [Float]?
    private var normalized: [Float]?
    private var outputs: [String: [Float]] = [:]

    init(architecture: Architecture, layerNormEpsilon: Double) {
        self.architecture = architecture
        epsilon = Float(layerNormEpsilon)
    }

    /// Sees every source tensor in plan order (the relative table and its LayerNorm come first).
    func observe(_ name: String, _ values: UnsafeBufferPointer<Float>) {
        let h = architecture.hiddenSize, rows = architecture.relativeRows
        switch name {
        case TensorNames.relativeEmbeddings: table = Array(values)
        case TensorNames.weight(TensorNames.relativeNorm): gain = Array(values)
        case TensorNames.bias(TensorNames.relativeNorm): bias = Array(values)
        default:
            guard name.hasPrefix(TensorNames.layerPrefix), let normalized else { break }
            let parts = name.split(separator: ".")
            guard parts.count >= 7, let layer = Int(parts[3]) else { break }
            let projection = parts[parts.count - 2], kind = parts[parts.count - 1]
            let target: String
            switch projection {
            case "query_proj": target = Self.queryName(layer)
            case "key_proj": target = Self.keyName(layer)
            default: return
            }
            if kind == "weight" {
                var output = [Float](repeating: 0, count: rows * h)
                normalized.withUnsafeBufferPointer { x in
                    output.withUnsafeMutableBufferPointer { y in
                        prm_linear_f32(x.baseAddress, Int64(rows), Int64(h), Int64(h), values.baseAddress, 0, Int64(h), nil,
                                       y.baseAddress, Int64(h))
                    }
                }
                outputs[target] = output
            } else if kind == "bias", var output = outputs[target] {
                for row in 0..<rows { for column in 0..<h { output[row * h + column] += values[column] } }
                outputs[target] = output
            }
        }
        if self.normalized == nil, let table, let gain, let bias {
            var result = [Float](repeating: 0, count: rows * h)
            table.withUnsafeBufferPointer { t in
                result.withUnsafeMutableBufferPointer { r in
                    prm_layernorm(t.baseAddress, nil, r.baseAddress, Int64(rows), Int64(h), Int64(h), gain, bias, epsilon)
                }
            }
            self.normalized = result
        }
    }

    /// The finished projection for a derived tensor name (all layers must have been seen).
    func take(_ name: String) -> [Float]? { outputs.removeValue(forKey: name) }
}
