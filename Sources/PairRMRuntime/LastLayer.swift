import PairRMKernels

extension PairRMModel {
    /// The last encoder layer for the few rows the head reads (PairRM: the three prefix tokens).
    /// Keys and values still need every row, but queries, attention rows, the attention output, the
    /// FFN and both LayerNorms run on those rows only: at 512 tokens that is ~4% of a forward pass.
    ///
    /// Every kept row comes out bit-identical to the full layer: quantization, LayerNorm, softmax and
    /// GELU work row by row (or element by element), and each GEMM output is one fixed chain of
    /// operations whatever the row count (pairrm_kernels.h). The position-to-content term is computed
    /// per run of keys that share a relative row, with the same sgemm_nt elements the full layer's
    /// transposed p2c holds. `GoldenTests` checks the bits against the probe path, which runs the
    /// full layer.
    func lastLayerRows(_ keep: [Int], layer index: Int, tokens t: Int, context c: InferenceContext) {
        let layer = weights.layers[index], h = config.hiddenSize, r = keep.count
        /// Copies rows `keep` of `source` (row stride h) into the first r rows of `destination`.
        func gather(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>) {
            for (slot, row) in keep.enumerated() { (destination + slot * h).update(from: source + row * h, count: h) }
        }

        // K and V over every row (they read the same quantized input); Q over the kept rows only.
        let attentionInput = maskOutliers(c.x, channels: layer.query.outliers?.channels, rows: t, scratch: c.scratch,
                                          threads: c.threads)
        layer.key.apply(attentionInput, rows: t, ldx: h, into: c.k, ldy: h, context: c)
        layer.value.apply(attentionInput, rows: t, ldx: h, into: c.v, ldy: h, context: c,
                          reuseActivations: layer.key.activations != .float && layer.value.activations == layer.key.activations)
        layer.key.addOutlierTerms(c.x, rows: t, ldx: h, into: c.k, ldy: h, threads: c.threads)
        layer.value.addOutlierTerms(c.x, rows: t, ldx: h, into: c.v, ldy: h, threads: c.threads)
        gather(attentionInput, into: c.attention)
        layer.query.apply(c.attention, rows: r, ldx: h, into: c.q, ldy: h, context: c)
        gather(c.x, into: c.attention)
        layer.query.addOutlierTerms(c.attention, rows: r, ldx: h, into: c.q, ldy: h, threads: c.threads)

        attendRows(keep, layer: index, tokens: t, context: c)  // → c.context rows 0..<r

        // Attention output, residual LayerNorm, FFN, residual LayerNorm: r rows (residual: the kept input rows).
        gather(c.x, into: c.q)
        outputAndFeedForward(layer, rows: r, residual: c.q, into: c.q, context: c)
        for (slot, row) in keep.enumerated() { (c.x + row * h).update(from: c.q + slot * h, count: h) }
    }

    /// Attention of the query rows c.q[0..<r) (positions `rows`) over all t keys, into c.context[0..<r).
    private func attendRows(_ rows: [Int], layer: Int, tokens t: Int, context c: InferenceContext) {
        let config = self.config, h = config.hiddenSize, d = config.headSize, r = rows.count
        let inverseScale = 1 / Float(Double(d * 3).squareRoot())
        let (lowRow, rowCount, positionQuery, positionKey) = reachableRelativeRows(layer: layer, tokens: t, context: c)
        let workers = min(c.threads, config.numHeads)
        parallelFor(workers, threads: workers) { worker in
            let scores = c.headScratch[worker]     // [r][t]
            let c2p = scores + r * t                // [r][rowCount]
            let p2c = c2p + r * rowCount            // [t]: one query row's position-to-content terms
            var head = worker
            while head < config.numHeads {
                let column = head * d
                prm_sgemm_nt(Int64(r), Int64(t), Int64(d), inverseScale, c.q + column, Int64(h), c.k + column, Int64(h), scores, Int64(t))
                prm_sgemm_nt(Int64(r), Int64(rowCount), Int64(d), 1, c.q + column, Int64(h),
                             positionKey + column, Int64(h), c2p, Int64(rowCount))
                for (slot, query) in rows.enumerated() {
                    // Keys j whose distance query − j falls in one relative row form a run: one GEMM row each.
                    var j0 = 0
                    while j0 < t {
                        let bucket = relative.row(query - j0)
                        var j1 = j0 + 1
                        while j1 < t && relative.row(query - j1) == bucket { j1 += 1 }
                        prm_sgemm_nt(1, Int64(j1 - j0), Int64(d), 1, positionQuery + (bucket - lowRow) * h + column, Int64(h),
                                     c.k + j0 * h + column, Int64(h), p2c + j0, Int64(t))
                        j0 = j1
                    }
                    prm_attention_add_relative_row(scores + slot * t, c2p + slot * rowCount, p2c, Int64(t),
                                                   c.relativeColumns + relative.maxDistance + query, inverseScale)
                }
                prm_softmax_rows(scores, Int64(r), Int64(t), Int64(t))
                prm_sgemm_nn(Int64(r), Int64(d), Int64(t), scores, Int64(t), c.v + column, Int64(h), c.context + column, Int64(h))
                head += workers
            }
        }
    }
}
