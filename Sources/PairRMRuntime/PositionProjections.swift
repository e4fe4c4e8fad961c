import PairRMFormat
import PairRMKernels

/// The per-layer query and key projections of the LayerNormed relative-embedding table
/// (PQ = LN(R)·Wqᵀ + bq, PK = LN(R)·Wkᵀ + bk, Formats/pairrm-model.md §3.4–§3.5). They do not
/// depend on the input, so the converter computes them once from the f32 weights and stores them as
/// `pairrm.layer.N.position_query` / `position_key`. Both dtypes stay in the container (zero-copy):
/// F32 rows are read in place; F16 rows (q8/q4 files) are widened per layer during the forward pass,
/// only the rows the current length reaches, into the context's scratch (`rows(layer:…)`).
final class PositionProjections: @unchecked Sendable {
    /// [query, key] of each layer, [relativeRows, hidden], and whether each is F16 (else F32).
    private let pointers: [UnsafeRawPointer]
    private let isHalf: [Bool]
    /// True when some tensor is F16, so `rows(layer:…)` needs the context's scratch.
    let needsWidening: Bool
    let relativeRows: Int
    let hidden: Int

    init(file: ModelFile, config: ModelConfig) throws {
        let shape = [config.relativeRows, config.hiddenSize]
        relativeRows = config.relativeRows
        hidden = config.hiddenSize
        var pointers: [UnsafeRawPointer] = [], isHalf: [Bool] = []
        for layer in 0..<config.numLayers {
            for name in ["pairrm.layer.\(layer).position_query", "pairrm.layer.\(layer).position_key"] {
                guard let info = file.tensor(named: name), info.shape == shape, info.dtype == .f32 || info.dtype == .f16 else {
                    throw RuntimeError(.missingTensor, file: file.path, field: "tensor '\(name)'",
                                       problem: "the precomputed position projection is missing or not F32/F16 \(shape)",
                                       fix: "re-convert the model with this version of `pairrm convert`")
                }
                pointers.append(file.data(of: info).baseAddress!)
                isHalf.append(info.dtype == .f16)
            }
        }
        self.pointers = pointers
        self.isHalf = isHalf
        needsWidening = isHalf.contains(true)
    }

    /// Floats of scratch `rows(layer:…)` needs when `needsWidening` (PQ and PK rows of one layer).
    var scratchCount: Int { needsWidening ? 2 * relativeRows * hidden : 0 }

    /// PQ and PK of `layer` starting at relative row `lowRow` (`count` rows of `hidden` floats, row
    /// stride `hidden`). F32: pointers into the container. F16: those rows widened (exactly) into
    /// `scratch` (`scratchCount` floats), split by rows across `threads`; the values, and so every
    /// result computed from them, are the same for any thread count and as if widened at load.
    func rows(layer: Int, from lowRow: Int, count: Int, scratch: UnsafeMutablePointer<Float>?,
              threads: Int) -> (query: UnsafePointer<Float>, key: UnsafePointer<Float>) {
        precondition(lowRow >= 0 && count >= 0 && lowRow + count <= relativeRows, "relative rows out of range")
        let h = hidden
        /// The rows in the container: F32 to read in place, or F16 to widen into its half of `scratch`.
        func stored(_ slot: Int) -> (f32: UnsafePointer<Float>?, f16: UnsafePointer<UInt16>?, widened: UnsafeMutablePointer<Float>?) {
            let base = pointers[2 * layer + slot]
            guard isHalf[2 * layer + slot] else { return (base.assumingMemoryBound(to: Float.self) + lowRow * h, nil, nil) }
            guard let scratch else { preconditionFailure("F16 position projections need the context's scratch") }
            return (nil, base.assumingMemoryBound(to: UInt16.self) + lowRow * h, scratch + slot * relativeRows * h)
        }
        let query = stored(0), key = stored(1)
        if query.f16 != nil || key.f16 != nil {
            let ranges = splitRanges(count, parts: threads, granularity: 1)
            parallelFor(ranges.count, threads: threads) { part in
                let start = ranges[part].lowerBound * h, length = Int64(ranges[part].count * h)
                if let source = query.f16, let destination = query.widened { prm_f16_to_f32(source + start, destination + start, length) }
                if let source = key.f16, let destination = key.widened { prm_f16_to_f32(source + start, destination + start, length) }
            }
        }
        return (query.f32 ?? UnsafePointer(query.widened!), key.f32 ?? UnsafePointer(key.widened!))
    }
}
