/// DeBERTa-v2's log-bucketed relative positions (Formats/pairrm-model.md §3.3), as a lookup table from the
/// distance i − j to the row of the relative table that both c2p and p2c read.
struct RelativePositions {
    /// `rows[d + maxDistance]` = clamp(bucket(d) + span, 0, 2·span − 1) for |d| ≤ maxDistance.
    let rows: [Int32]
    let maxDistance: Int

    init(buckets: Int, maxPosition: Int, maxDistance: Int) {
        self.maxDistance = maxDistance
        let span = buckets
        var table = [Int32](repeating: 0, count: 2 * maxDistance + 1)
        for d in -maxDistance...maxDistance {
            let bucket = RelativePositions.bucket(d, bucketSize: buckets, maxPosition: maxPosition)
            table[d + maxDistance] = Int32(min(max(bucket + span, 0), 2 * span - 1))
        }
        rows = table
    }

    /// transformers' `make_log_bucket_position`, in float32 as PyTorch evaluates it. Numerator
    /// and denominator use the same float32 log, so |d| = maxPosition − 1 lands exactly on the top
    /// bucket (511 → 255 for PairRM).
    static func bucket(_ relative: Int, bucketSize: Int, maxPosition: Int) -> Int {
        let mid = bucketSize / 2
        let absolute = abs(relative)
        if absolute <= mid { return relative }
        let ratio = Float(absolute) / Float(mid)
        let top = Float(maxPosition - 1) / Float(mid)
        let logPosition = (logf(ratio) / logf(top) * Float(mid - 1)).rounded(.up) + Float(mid)
        return relative < 0 ? -Int(logPosition) : Int(logPosition)
    }

    @inline(__always)
    func row(_ distance: Int) -> Int { Int(rows[distance + maxDistance]) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
