import PairRMKernels

/// The per-layer query and key projections of the LayerNormed relative-embedding table
/// (PQ = LN(R)·Wqᵀ + bq, PK = LN(R)·Wkᵀ + bk, pairrm-spec §3.4–3.5). They do not depend on the
/// input, so they are computed once when the model loads and shared by every forward pass.
final class PositionProjections: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Float>
    private let rows: Int
    private let hidden: Int

    init(weights: EncoderWeights) {
        let config = weights.config
        rows = config.relativeRows
        hidden = config.hiddenSize
        let perLayer = rows * hidden
        storage = .allocate(capacity: 2 * config.numLayers * perLayer)
        let normalized = UnsafeMutablePointer<Float>.allocate(capacity: perLayer)
        defer { normalized.deallocate() }
        prm_layernorm(weights.relativeTable, nil, normalized, Int64(rows), Int64(hidden), Int64(hidden),
                      weights.relativeNormGain, weights.relativeNormBias, config.layerNormEps)
        let kp = (hidden + 31) / 32 * 32
        let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: rows * kp)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        let sums = UnsafeMutablePointer<Int32>.allocate(capacity: rows * kp / 32)
        defer { quantized.deallocate(); scales.deallocate(); sums.deallocate() }
        var activations = prm_q8_activations(q: quantized, scale: scales, block_sum: sums, m: Int64(rows), kp: Int64(kp))
        for (index, layer) in weights.layers.enumerated() {
            layer.query.apply(normalized, rows: rows, ldx: hidden, into: storage + (2 * index) * perLayer, ldy: hidden,
                              activations: &activations, threads: 2)
            layer.key.apply(normalized, rows: rows, ldx: hidden, into: storage + (2 * index + 1) * perLayer, ldy: hidden,
                            activations: &activations, threads: 2)
        }
    }

    /// PQ of `layer`: [relativeRows, hidden].
    func query(_ layer: Int) -> UnsafePointer<Float> { UnsafePointer(storage + 2 * layer * rows * hidden) }
    /// PK of `layer`: [relativeRows, hidden].
    func key(_ layer: Int) -> UnsafePointer<Float> { UnsafePointer(storage + (2 * layer + 1) * rows * hidden) }

    deinit { storage.deallocate() }
}
