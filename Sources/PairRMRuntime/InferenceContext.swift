import PairRMKernels

/// The working memory of one forward pass, allocated once for a maximum length and reused: no
/// allocation per layer or per pair in steady state. A context is used by one call at a time;
/// make one per thread (or per concurrent task) that scores pairs.
public final class InferenceContext: @unchecked Sendable {
    public let maxTokens: Int
    public let threads: Int
    let hidden: Int

    let x: UnsafeMutablePointer<Float>          // [T, H] hidden states (layer input/output)
    let q: UnsafeMutablePointer<Float>          // [T, H]
    let k: UnsafeMutablePointer<Float>          // [T, H]
    let v: UnsafeMutablePointer<Float>          // [T, H]
    let context: UnsafeMutablePointer<Float>    // [T, H] attention output before the dense layer
    let attention: UnsafeMutablePointer<Float>  // [T, H] after attention.output LayerNorm
    let scratch: UnsafeMutablePointer<Float>    // [T, H]
    let intermediate: UnsafeMutablePointer<Float>  // [T, I]
    /// Per worker: scores [T, T], c2p [T, R], p2c transposed [R, T].
    let headScratch: [UnsafeMutablePointer<Float>]
    let headScratchStride: Int
    /// Quantized GEMM inputs: int8 rows (Q8_P16, Q4_P16B32) and int16 rows (Q8_P16B32).
    var activations: prm_q8_activations
    var wideActivations: prm_q16_activations
    /// Relative-table column of each distance −maxDistance…maxDistance for the current length.
    let relativeColumns: UnsafeMutablePointer<Int32>
    /// F16 models only: the current layer's PQ and PK rows widened to f32, [2][relativeRows, H]
    /// (PositionProjections.rows); nil when the projections are F32 and read in place.
    let positionRows: UnsafeMutablePointer<Float>?
    private var allocations: [UnsafeMutableRawPointer] = []

    /// - Parameters:
    ///   - maxTokens: the longest sequence this context will run (PairRM: 2048).
    ///   - threads: worker threads for this context's forward passes (results are identical for any value).
    public init(model: PairRMModel, maxTokens: Int = 2048, threads: Int = 1) {
        let config = model.config
        self.maxTokens = maxTokens
        let workers = max(1, threads)
        self.threads = workers
        hidden = config.hiddenSize
        var allocations: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            // Not zeroed on purpose: every buffer is written before it is read, and untouched pages
            // of a context sized for 2048 tokens then never become resident for shorter inputs.
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            allocations.append(raw)
            return raw.assumingMemoryBound(to: Float.self)
        }
        let t = maxTokens, h = config.hiddenSize, i = config.intermediateSize
        x = floats(t * h); q = floats(t * h); k = floats(t * h); v = floats(t * h)
        context = floats(t * h); attention = floats(t * h); scratch = floats(t * h)
        intermediate = floats(t * i)
        let stride = t * t + 2 * t * config.relativeRows
        headScratchStride = stride
        headScratch = (0..<workers).map { _ in floats(stride) }
        let kp = (max(h, i) + 31) / 32 * 32
        let quantized = UnsafeMutableRawPointer.allocate(byteCount: t * kp, alignment: 64)
        let scales = UnsafeMutableRawPointer.allocate(byteCount: t * 4, alignment: 64)
        let sums = UnsafeMutableRawPointer.allocate(byteCount: t * kp / 32 * 4, alignment: 64)
        allocations += [quantized, scales, sums]
        activations = prm_q8_activations(q: quantized.assumingMemoryBound(to: Int8.self), scale: scales.assumingMemoryBound(to: Float.self),
                                         block_sum: sums.assumingMemoryBound(to: Int32.self), m: 0, kp: 0)
        let wide = UnsafeMutableRawPointer.allocate(byteCount: t * kp * 2, alignment: 64)
        let wideScales = UnsafeMutableRawPointer.allocate(byteCount: t * 4, alignment: 64)
        allocations += [wide, wideScales]
        wideActivations = prm_q16_activations(q: wide.assumingMemoryBound(to: Int16.self), scale: wideScales.assumingMemoryBound(to: Float.self),
                                              m: 0, kp: 0)
        let columns = UnsafeMutableRawPointer.allocate(byteCount: (2 * PairRMModel.maxTokens + 1) * 4, alignment: 64)
        allocations.append(columns)
        relativeColumns = columns.assumingMemoryBound(to: Int32.self)
        let positionFloats = model.positionProjections.scratchCount
        positionRows = positionFloats > 0 ? floats(positionFloats) : nil
        self.allocations = allocations
    }

    /// Points the activation scratch at a K for the next quantized GEMM.
    func prepareActivations(inFeatures: Int) {
        activations.kp = Int64((inFeatures + 31) / 32 * 32)
        wideActivations.kp = activations.kp
    }

    deinit { for pointer in allocations { pointer.deallocate() } }
}
