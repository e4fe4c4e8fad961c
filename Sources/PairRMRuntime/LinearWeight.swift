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

    var needsQuantizedActivations: Bool {
        switch storage {
        case .q8p16, .q4p16b32: true
        default: false
        }
    }

    /// y[0..<m, 0..<out] = x · Wᵀ + b, output columns split across `threads` in 16-column panels
    /// (each output's arithmetic is independent of the split: bit-identical for any thread count).
    /// `activations` is scratch for the int8 paths, sized for m × inFeatures.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
               activations: inout prm_q8_activations, threads: Int) {
        let n = outFeatures, k = inFeatures
        if needsQuantizedActivations {
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
