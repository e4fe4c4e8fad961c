import PairRMFormat

/// The per-layer query and key projections of the LayerNormed relative-embedding table
/// (PQ = LN(R)·Wqᵀ + bq, PK = LN(R)·Wkᵀ + bk, pairrm-spec §3.4–3.5). They do not depend on the
/// input, so the converter computes them once from the f32 weights and stores them as
/// `pairrm.layer.N.position_query` / `position_key`; F32 tensors are used in place, F16 ones are
/// widened once at load.
final class PositionProjections: @unchecked Sendable {
    private var pointers: [UnsafePointer<Float>] = []
    private var owned: [UnsafeMutablePointer<Float>] = []

    init(file: ModelFile, config: ModelConfig) throws {
        let shape = [config.relativeRows, config.hiddenSize]
        for layer in 0..<config.numLayers {
            for name in ["pairrm.layer.\(layer).position_query", "pairrm.layer.\(layer).position_key"] {
                guard let info = file.tensor(named: name), info.shape == shape, info.dtype == .f32 || info.dtype == .f16 else {
                    throw RuntimeError(.missingTensor, file: file.path, field: "tensor '\(name)'",
                                       problem: "the precomputed position projection is missing or not F32/F16 \(shape)",
                                       fix: "re-convert the model with this version of `pairrm convert`")
                }
                let bytes = file.data(of: info)
                if info.dtype == .f32 {
                    pointers.append(bytes.baseAddress!.assumingMemoryBound(to: Float.self))
                } else {
                    let count = shape[0] * shape[1]
                    let widened = UnsafeMutablePointer<Float>.allocate(capacity: count)
                    let halves = bytes.baseAddress!.assumingMemoryBound(to: Float16.self)
                    for index in 0..<count { widened[index] = Float(halves[index]) }
                    owned.append(widened)
                    pointers.append(UnsafePointer(widened))
                }
            }
        }
    }

    /// PQ of `layer`: [relativeRows, hidden].
    func query(_ layer: Int) -> UnsafePointer<Float> { pointers[2 * layer] }
    /// PK of `layer`: [relativeRows, hidden].
    func key(_ layer: Int) -> UnsafePointer<Float> { pointers[2 * layer + 1] }

    deinit { for pointer in owned { pointer.deallocate() } }
}
