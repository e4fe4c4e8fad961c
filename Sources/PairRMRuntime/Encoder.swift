import PairRMFormat
import PairRMKernels

/// What a forward pass can report besides the logit (golden tests read every layer).
public enum ForwardProbe {
    /// Hidden states after the embedding LayerNorm (layer = 0) and after each layer (1…L), [T, H] row-major.
    case hiddenStates((_ layer: Int, _ states: UnsafeBufferPointer<Float>) -> Void)
}

extension PairRMModel {
    /// Runs the encoder over `ids` (one sequence, no padding), leaving the last hidden states in `context.x`.
    /// With `keep` (and no probe), the last layer computes only those rows (the head reads the three
    /// prefix rows): the other rows of `context.x` are then left at the previous layer's states. The
    /// kept rows are bit-identical to a full last layer (see lastLayerRows).
    func encode(_ ids: UnsafeBufferPointer<Int32>, context c: InferenceContext, probe: ForwardProbe?, keep: [Int]? = nil) {
        let w = weights, config = self.config
        let t = ids.count, h = config.hiddenSize
        for (row, id) in ids.enumerated() { w.embed(Int(id), into: c.x + row * h) }
        prm_layernorm(c.x, nil, c.x, Int64(t), Int64(h), Int64(h), w.embeddingNormGain, w.embeddingNormBias, config.layerNormEps)
        report(probe, layer: 0, c.x, t * h)

        for (index, layer) in w.layers.enumerated() {
            if index == w.layers.count - 1, probe == nil, let keep {
                lastLayerRows(keep, layer: index, tokens: t, context: c)
                break
            }
            // Q, K and V read the same input: quantize it once (outlier channels masked out).
            let attentionInput = maskOutliers(c.x, channels: layer.query.outliers?.channels, rows: t, scratch: c.scratch,
                                              threads: c.threads)
            layer.query.apply(attentionInput, rows: t, ldx: h, into: c.q, ldy: h, context: c)
            // K and V reuse Q's quantized input when they read it the same way.
            let quantized = layer.query.activations
            layer.key.apply(attentionInput, rows: t, ldx: h, into: c.k, ldy: h, context: c,
                            reuseActivations: quantized != .float && layer.key.activations == quantized)
            layer.value.apply(attentionInput, rows: t, ldx: h, into: c.v, ldy: h, context: c,
                              reuseActivations: quantized != .float && layer.value.activations == quantized)
            layer.query.addOutlierTerms(c.x, rows: t, ldx: h, into: c.q, ldy: h, threads: c.threads)
            layer.key.addOutlierTerms(c.x, rows: t, ldx: h, into: c.k, ldy: h, threads: c.threads)
            layer.value.addOutlierTerms(c.x, rows: t, ldx: h, into: c.v, ldy: h, threads: c.threads)
            attend(layer: index, tokens: t, context: c)
            outputAndFeedForward(layer, rows: t, residual: c.x, into: c.x, context: c)
            report(probe, layer: index + 1, c.x, t * h)
        }
    }

    /// The rest of a layer after attention, over `rows` rows of c.context: attention.output, the
    /// residual LayerNorm with `residual` (the layer's input rows), the FFN and its residual
    /// LayerNorm, into `output` (may be `residual`). Uses c.scratch, c.attention and c.intermediate.
    func outputAndFeedForward(_ layer: EncoderWeights.Layer, rows: Int, residual: UnsafeMutablePointer<Float>,
                              into output: UnsafeMutablePointer<Float>, context c: InferenceContext) {
        let h = config.hiddenSize, ffn = config.intermediateSize
        layer.attentionOutput.apply(c.context, rows: rows, ldx: h, into: c.scratch, ldy: h, context: c)
        layerNorm(c.scratch, residual: residual, into: c.attention, rows: rows, gain: layer.attentionNormGain,
                  bias: layer.attentionNormBias, context: c)
        let ffnInput = maskOutliers(c.attention, channels: layer.intermediate.outliers?.channels, rows: rows, scratch: c.scratch,
                                    threads: c.threads)
        layer.intermediate.apply(ffnInput, rows: rows, ldx: h, into: c.intermediate, ldy: ffn, context: c)
        layer.intermediate.addOutlierTerms(c.attention, rows: rows, ldx: h, into: c.intermediate, ldy: ffn, threads: c.threads)
        gelu(c.intermediate, count: rows * ffn, context: c)
        layer.output.apply(c.intermediate, rows: rows, ldx: ffn, into: c.scratch, ldy: h, context: c)
        layerNorm(c.scratch, residual: c.attention, into: output, rows: rows, gain: layer.outputNormGain,
                  bias: layer.outputNormBias, context: c)
    }

    private func report(_ probe: ForwardProbe?, layer: Int, _ states: UnsafeMutablePointer<Float>, _ count: Int) {
        if case .hiddenStates(let body)? = probe { body(layer, UnsafeBufferPointer(start: states, count: count)) }
    }

    /// `x` with the outlier channels zeroed (a copy in `scratch`), or `x` itself when there are none.
    func maskOutliers(_ x: UnsafeMutablePointer<Float>, channels: [Int]?, rows: Int,
                      scratch: UnsafeMutablePointer<Float>, threads: Int) -> UnsafeMutablePointer<Float> {
        guard let channels, !channels.isEmpty else { return x }
        let h = config.hiddenSize
        let ranges = splitRanges(rows, parts: threads, granularity: 1)
        parallelFor(ranges.count, threads: threads) { part in
            let first = ranges[part].lowerBound
            (scratch + first * h).update(from: x + first * h, count: ranges[part].count * h)
            for row in ranges[part] { for channel in channels { scratch[row * h + channel] = 0 } }
        }
        return scratch
    }

    func layerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
                   rows: Int, gain: UnsafePointer<Float>, bias: UnsafePointer<Float>, context c: InferenceContext) {
        let h = config.hiddenSize, eps = config.layerNormEps
        let ranges = splitRanges(rows, parts: c.threads, granularity: 1)
        parallelFor(ranges.count, threads: c.threads) { part in
            let r = ranges[part]
            prm_layernorm(x + r.lowerBound * h, residual + r.lowerBound * h, y + r.lowerBound * h,
                          Int64(r.count), Int64(h), Int64(h), gain, bias, eps)
        }
    }

    func gelu(_ x: UnsafeMutablePointer<Float>, count: Int, context c: InferenceContext) {
        let ranges = splitRanges(count, parts: c.threads, granularity: 64)
        parallelFor(ranges.count, threads: c.threads) { part in
            prm_gelu(x + ranges[part].lowerBound, Int64(ranges[part].count))
        }
    }

    /// The relative rows that distances in 0..<t reach: only those are multiplied (and, for F16
    /// projections, widened first: both pointers start at row lowRow, row stride h). Also rebases
    /// the context's bucket table to lowRow.
    func reachableRelativeRows(layer: Int, tokens t: Int, context c: InferenceContext)
        -> (lowRow: Int, rowCount: Int, query: UnsafePointer<Float>, key: UnsafePointer<Float>) {
        let lowRow = relative.row(-(t - 1)), rowCount = relative.row(t - 1) - lowRow + 1
        let (query, key) = positionProjections.rows(layer: layer, from: lowRow, count: rowCount,
                                                    scratch: c.positionRows, threads: c.threads)
        for (index, row) in relative.rows.enumerated() { c.relativeColumns[index] = row - Int32(lowRow) }
        return (lowRow, rowCount, query, key)
    }

    /// Disentangled self-attention (Formats/pairrm-model.md §3.5), one head at a time per worker, never the
    /// whole heads × T × T score tensor.
    private func attend(layer: Int, tokens t: Int, context c: InferenceContext) {
        let config = self.config, h = config.hiddenSize, d = config.headSize
        let inverseScale = 1 / Float(Double(d * 3).squareRoot())
        let (_, rowCount, positionQuery, positionKey) = reachableRelativeRows(layer: layer, tokens: t, context: c)
        let workers = min(c.threads, config.numHeads)
        parallelFor(workers, threads: workers) { worker in
            let scores = c.headScratch[worker]
            let c2p = scores + t * t
            let p2cTransposed = c2p + t * rowCount
            var head = worker
            while head < config.numHeads {
                let column = head * d
                prm_sgemm_nt(Int64(t), Int64(t), Int64(d), inverseScale, c.q + column, Int64(h), c.k + column, Int64(h), scores, Int64(t))
                prm_sgemm_nt(Int64(t), Int64(rowCount), Int64(d), 1, c.q + column, Int64(h),
                             positionKey + column, Int64(h), c2p, Int64(rowCount))
                // Position-to-content scores transposed ([relative row][key]): the gather then reads
                // them along rows (see attention.c).
                prm_sgemm_nt(Int64(rowCount), Int64(t), Int64(d), 1, positionQuery + column, Int64(h),
                             c.k + column, Int64(h), p2cTransposed, Int64(t))
                prm_attention_add_relative(scores, c2p, p2cTransposed, Int64(t), Int64(rowCount), c.relativeColumns + relative.maxDistance,
                                           inverseScale, 0, Int64(t))
                prm_softmax_rows(scores, Int64(t), Int64(t), Int64(t))
                prm_sgemm_nn(Int64(t), Int64(d), Int64(t), scores, Int64(t), c.v + column, Int64(h), c.context + column, Int64(h))
                head += workers
            }
        }
    }
}
