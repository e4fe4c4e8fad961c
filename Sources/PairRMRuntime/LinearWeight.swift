import PairRMFormat
import PairRMKernels

/// A Linear layer's weight in whichever stored type the file has, pointing into the container
/// (zero-copy), plus its f32 bias.
struct LinearWeight: @unchecked Sendable {
    enum Storage {
        case f32(UnsafePointer<Float>)
        case f16(UnsafePointer<UInt16>)
        case q8p16(UnsafePointer<UInt8>)
        case q4p16b32(UnsafePointer<UInt8>)
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

    var needsQuantizedActivations: Bool {
        switch storage {
        case .q8p16, .q4p16b32: true
        default: false
        }
    }

    /// y[0..<m, 0..<out] = x · Wᵀ + b, output columns split across `threads` in 16-column panels
    /// (each output's arithmetic is independent of the split: bit-identical for any thread count).
    /// `activations` is scratch for the int8 paths, sized for m × inFeatures.
    /// With `reuseActivations`, `activations` already holds this input quantized (Q, K and V share it).
    func apply(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
               activations: inout prm_q8_activations, threads: Int, reuseActivations: Bool = false) {
        let n = outFeatures, k = inFeatures
        if needsQuantizedActivations && !reuseActivations {
            activations.m = Int64(m)
            prm_quantize_activations(x, Int64(m), Int64(k), Int64(ldx), &activations)
        }
        let ranges = splitRanges(n, parts: threads)
        let quantized = activations
        parallelFor(ranges.count, threads: threads) { part in
            let range = ranges[part]
            var local = quantized
            switch storage {
            case .f32(let w):
                prm_linear_f32(x, Int64(m), Int64(k), Int64(ldx), w, Int64(range.lowerBound), Int64(range.upperBound), bias, y, Int64(ldy))
            case .f16(let w):
                prm_linear_f16(x, Int64(m), Int64(k), Int64(ldx), w, Int64(range.lowerBound), Int64(range.upperBound), bias, y, Int64(ldy))
            case .q8p16(let w):
                prm_linear_q8p16(&local, Int64(k), w, Int64(n), Int64(range.lowerBound), Int64(range.upperBound), bias, y, Int64(ldy))
            case .q4p16b32(let w):
                prm_linear_q4p16b32(&local, Int64(k), w, Int64(n), Int64(range.lowerBound), Int64(range.upperBound), bias, y, Int64(ldy))
            }
        }
    }
}

extension LinearWeight {
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
