import PairRMFormat
import PairRMKernels

/// A Linear layer's weight in whichever stored type the file has, pointing into the container
/// (zero-copy), plus its f32 bias.
struct LinearWeight: @unchecked Sendable {
    enum Storage {
        case f32(UnsafePointer<Float>)
        case f16(UnsafePointer<UInt16>)
        case q8p16(UnsafePointer<UInt8>)
        case q8p16b32(UnsafePointer<UInt8>)
        case q4p16b32(UnsafePointer<UInt8>)
    }

    /// What the kernel reads as input: the f32 rows, or the rows quantized once per GEMM input.
    enum Activations: Equatable {
        case float
        /// int8, one scale per row (Q8_P16, Q4_P16B32, and Q8_P16B32 in the W8A8 plan)
        case int8
        /// int16, one scale per row (Q8_P16B32)
        case int16
    }

    let storage: Storage
    /// Output features (rows of the PyTorch weight).
    let outFeatures: Int
    /// Input features.
    let inFeatures: Int
    let bias: UnsafePointer<Float>?
    /// For int8/int4 weights whose input has outlier channels: those input columns, kept in f32 and
    /// transposed ([channels.count, outFeatures]); the quantized matrix has them zeroed.
    let outliers: (channels: [Int], columns: UnsafePointer<Float>)?
    let activations: Activations

    /// - Parameter width: for Q8_P16B32 weights, the activation width the file's plan gives this
    ///   matrix (the other types have one kernel each).
    init(storage: Storage, outFeatures: Int, inFeatures: Int, bias: UnsafePointer<Float>?,
         outliers: (channels: [Int], columns: UnsafePointer<Float>)?, width: ActivationPlan.Width) {
        self.storage = storage
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.bias = bias
        self.outliers = outliers
        activations = switch storage {
        case .f32, .f16: .float
        case .q8p16, .q4p16b32: .int8
        case .q8p16b32: width == .int8 ? .int8 : .int16
        }
    }

    /// y[0..<m, 0..<out] = x · Wᵀ + b, output columns split across the context's threads in 16-column
    /// panels (each output's arithmetic is independent of the split: bit-identical for any thread count).
    /// With `reuseActivations`, the context's activation scratch already holds this input quantized
    /// the way this weight reads it (Q, K and V share one input).
    func apply(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
               context c: InferenceContext, reuseActivations: Bool = false) {
        let n = outFeatures, k = inFeatures
        c.prepareActivations(inFeatures: k)
        if !reuseActivations && activations != .float {
            quantize(x, rows: m, ldx: ldx, context: c)
        }
        let ranges = splitRanges(n, parts: c.threads)
        let narrow = c.activations, wide = c.wideActivations
        parallelFor(ranges.count, threads: c.threads) { part in
            let range = ranges[part]
            let lo = Int64(range.lowerBound), hi = Int64(range.upperBound)
            var narrowLocal = narrow, wideLocal = wide
            switch storage {
            case .f32(let w):
                prm_linear_f32(x, Int64(m), Int64(k), Int64(ldx), w, lo, hi, bias, y, Int64(ldy))
            case .f16(let w):
                prm_linear_f16(x, Int64(m), Int64(k), Int64(ldx), w, lo, hi, bias, y, Int64(ldy))
            case .q8p16(let w):
                prm_linear_q8p16(&narrowLocal, Int64(k), w, Int64(n), lo, hi, bias, y, Int64(ldy))
            case .q8p16b32(let w) where activations == .int8:
                prm_linear_q8p16b32_a8(&narrowLocal, Int64(k), w, Int64(n), lo, hi, bias, y, Int64(ldy))
            case .q8p16b32(let w):
                prm_linear_q8p16b32(&wideLocal, Int64(k), w, Int64(n), lo, hi, bias, y, Int64(ldy))
            case .q4p16b32(let w):
                prm_linear_q4p16b32(&narrowLocal, Int64(k), w, Int64(n), lo, hi, bias, y, Int64(ldy))
            }
        }
    }
}

extension LinearWeight {
    /// Quantizes the input rows the way this weight reads them into the context's scratch, rows split
    /// across the context's threads (each row's quantization is independent: bit-identical).
    private func quantize(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, context c: InferenceContext) {
        let k = Int64(inFeatures), kp = Int(c.activations.kp)
        c.activations.m = Int64(m)
        c.wideActivations.m = Int64(m)
        let narrow = c.activations, wide = c.wideActivations, activations = self.activations
        let ranges = splitRanges(m, parts: c.threads, granularity: 1)
        parallelFor(ranges.count, threads: c.threads) { part in
            let rows = ranges[part], first = rows.lowerBound
            switch activations {
            case .float: break
            case .int8:
                var slice = narrow
                slice.q += first * kp
                slice.scale += first
                slice.block_sum += first * (kp / 32)
                slice.m = Int64(rows.count)
                prm_quantize_activations(x + first * ldx, Int64(rows.count), k, Int64(ldx), &slice)
            case .int16:
                var slice = wide
                slice.q += first * kp
                slice.scale += first
                slice.m = Int64(rows.count)
                prm_quantize_activations_q16(x + first * ldx, Int64(rows.count), k, Int64(ldx), &slice)
            }
        }
    }

    /// y[i][n] += Σ_c x[i][channel_c] · columns[c][n]: the f32 part of the outlier decomposition.
    /// Rows are independent, so splitting them across threads cannot change a bit.
    func addOutlierTerms(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int) {
        guard let outliers else { return }
        let n = outFeatures
        let ranges = splitRanges(m, parts: threads, granularity: 1)
        parallelFor(ranges.count, threads: threads) { part in
            for row in ranges[part] {
                let output = y + row * ldy
                for (slot, channel) in outliers.channels.enumerated() {
                    let value = x[row * ldx + channel]
                    let column = outliers.columns + slot * n
                    for index in 0..<n { output[index] += value * column[index] }
                }
            }
        }
    }
}
