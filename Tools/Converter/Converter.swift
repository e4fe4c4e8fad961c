import Foundation
import PairRMFormat

public struct ConversionOptions: Sendable {
    public var weights: WeightsRecipe = .q8
    /// zstd-compress the tensor section (a distribution file; loading then decompresses it).
    public var compressTensors = false
    public var zstdLevel: Int32 = Zstd.defaultLevel
    /// Number of attention heads when the config cannot say (a RankerConfig naming an unknown backbone).
    public var numHeads: Int?
    /// Which weights file to read when a directory holds both `model.safetensors` and `pytorch_model.bin`.
    public var weightsFile: String?
    /// The activation plan to record instead of the recipe's own (q8/q8a8 only: the tensors are
    /// the same, only the metadata differs).
    public var activations: ActivationPlan?

    public init(weights: WeightsRecipe = .q8) { self.weights = weights }
}

/// Reported after each tensor: enough for a progress bar with a byte-accurate ETA.
public struct ConversionProgress: Sendable {
    public var tensorIndex: Int
    public var tensorCount: Int
    public var tensorName: String
    public var sourceBytesDone: Int
    public var sourceBytesTotal: Int
}

public struct ConversionReport: Sendable {
    public var output: String
    public var layout: HubConfig.Layout
    public var architecture: Architecture
    public var tensorCount: Int
    public var sourceWeightBytes: Int
    public var outputBytes: Int
    public var seconds: Double
}

/// Turns a local copy of `llm-blender/PairRM` or `llm-blender/PairRM-hf` into a `.prm` file,
/// one tensor at a time (the model is never held twice), refusing anything it cannot convert
/// faithfully with an error that names the file and field.
public enum Converter {
    public static let version = PairRMVersion.string

    public static func convert(directory: String, output: String, options: ConversionOptions = ConversionOptions(),
                               progress: ((ConversionProgress) -> Void)? = nil) throws -> ConversionReport {
        let started = Date()
        let files = try HubFiles.locate(directory: directory, weightsFile: options.weightsFile)
        var config = try HubConfig.load(directory: directory)
        let spmBytes = try HubFiles.read(files.spm)
        let spm = try SentencePieceModel.parse(spmBytes, file: files.spm)
        let tokenizer = try TokenizerFiles.load(directory: directory, spm: spm)

        // Hash the weights file on the second core while the first converts it.
        let weightsHash = BackgroundSHA256(path: files.weights)
        let weights: CheckpointWeights = files.weights.hasSuffix(".bin") ? try TorchCheckpoint(path: files.weights)
                                                                          : try SafetensorsFile(path: files.weights)
        let architecture = try resolveArchitecture(config: &config, weights: weights, spm: spm, tokenizer: tokenizer,
                                                   files: files, options: options)
        let expected = architecture.expectedTensors
        let sourceByName = try checkTensorSet(expected: expected, weights: weights)

        // Outlier channels matter only where activations are quantized (int8/int4 recipes).
        let quantizedActivations = options.weights.quantizesActivations
        let outliers = quantizedActivations ? try OutlierPlan(architecture: architecture, weights: weights, sources: sourceByName)
                                            : OutlierPlan()
        let outlierColumns = outliers.channels(forWeight: architecture)
        let sideTensors = expected.compactMap { item -> ExpectedTensor? in
            guard let channels = outlierColumns[item.name] else { return nil }
            return ExpectedTensor(name: OutlierPlan.sideTensorName(item.name), shape: [channels.count, item.shape[0]], role: .outlierColumns)
        }
        var sideValues: [String: [Float]] = [:]
        let derived = architecture.derivedTensors + sideTensors
        let plan = (expected + derived).map { TensorPlan(name: $0.name, dtype: options.weights.dtype(for: $0.role), shape: $0.shape) }
        let projections = PositionProjectionBuilder(architecture: architecture, layerNormEpsilon: config.layerNormEps)
        let writer = try ContainerWriter(path: output, tensorCodec: options.compressTensors ? .zstd : .raw,
                                         zstdLevel: options.zstdLevel)
        do {
            try writer.beginTensors(plan)
            let totalBytes = expected.reduce(0) { $0 + sourceByName[$1.name]!.byteCount }
            let largest = expected.map { $0.shape.reduce(1, *) }.max() ?? 0
            let largestStored = plan.compactMap { $0.dtype.byteSize(shape: $0.shape) }.max() ?? 0
            var floats = [Float](repeating: 0, count: largest)
            var stored = [UInt8](repeating: 0, count: largestStored)
            var done = 0
            for (index, item) in plan.enumerated() {
                let source = sourceByName[item.name]
                let count = item.shape.reduce(1, *)
                try floats.withUnsafeMutableBufferPointer { buffer in
                    let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                    if let source {
                        try weights.readFloat32(source, into: values)
                        weights.release(source)
                        try checkFinite(UnsafeBufferPointer(values), tensor: item.name, file: weights.path)
                        projections.observe(item.name, UnsafeBufferPointer(values))
                        if let channels = outlierColumns[item.name] {
                            // Keep the outlier input columns in f32, transposed, and take them out of the
                            // quantized matrix (they would also inflate its row scales).
                            let (rows, columns) = (item.shape[0], item.shape[1])
                            var side = [Float](repeating: 0, count: channels.count * rows)
                            for (slot, channel) in channels.enumerated() {
                                for row in 0..<rows {
                                    side[slot * rows + row] = values[row * columns + channel]
                                    values[row * columns + channel] = 0
                                }
                            }
                            sideValues[OutlierPlan.sideTensorName(item.name)] = side
                        }
                    } else if let side = sideValues.removeValue(forKey: item.name) {
                        _ = values.update(from: side)
                    } else {
                        let derivedValues = projections.take(item.name)!
                        _ = values.update(from: derivedValues)
                    }
                    let size = item.dtype.byteSize(shape: item.shape)!
                    try stored.withUnsafeMutableBytes { raw in
                        let destination = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                        encode(UnsafeBufferPointer(values), as: item.dtype, shape: item.shape, into: destination)
                        try writer.writeTensor(named: item.name, bytes: UnsafeRawBufferPointer(destination))
                    }
                }
                done += source?.byteCount ?? 0
                progress?(ConversionProgress(tensorIndex: index + 1, tensorCount: plan.count, tensorName: item.name,
                                             sourceBytesDone: done, sourceBytesTotal: totalBytes))
            }
            var provenance: [String] = []
            for name in ([files.configName] + files.extraConfigs + ["spm.model"] + tokenizer.filesRead).sorted() {
                let path = (directory as NSString).appendingPathComponent(name)
                provenance.append(try provenanceLine(name: name, path: path))
            }
            let weightsName = (files.weights as NSString).lastPathComponent
            provenance.append("\(weightsName) \(try HubFiles.size(files.weights)) sha256:\(try weightsHash.wait())")
            var metadata = try buildMetadata(config: config, architecture: architecture, spm: spm, tokenizer: tokenizer,
                                             options: options, weights: weights, weightsName: weightsName,
                                             provenance: provenance)
            if quantizedActivations {
                metadata["quantization.outlier_ratio"] = .double(Double(OutlierPlan.ratio))
                for (consumer, channels) in outliers.channels {
                    metadata[OutlierPlan.metadataKey(consumer)] = .array(channels.map { MetadataValue.int(Int64($0)) })
                }
            }
            try writer.finish(vocabulary: tokenizer.vocabulary(from: spm), metadata: metadata)
            return ConversionReport(output: output, layout: config.layout, architecture: architecture,
                                    tensorCount: plan.count, sourceWeightBytes: totalBytes,
                                    outputBytes: try HubFiles.size(output), seconds: Date().timeIntervalSince(started))
        } catch {
            writer.abandon()
            throw error
        }
    }

    // MARK: Steps

    static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType, shape: [Int], into destination: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .f32, .f16, .bf16: Quantize.storeFloat(values, as: dtype, into: destination)
        case .q8Rows: Quantize.quantizeQ8Rows(values, rows: shape[0], columns: shape[1], into: destination)
        case .q8P16: Quantize.quantizeQ8P16(values, rows: shape[0], columns: shape[1], into: destination)
        case .q8P16B32: Quantize.quantizeQ8P16B32(values, rows: shape[0], columns: shape[1], into: destination)
        case .q4P16B32: Quantize.quantizeQ4P16B32(values, rows: shape[0], columns: shape[1], into: destination)
        }
    }

    static func checkFinite(_ values: UnsafeBufferPointer<Float>, tensor: String, file: String) throws {
        // Summing is branch-free and fast; only on a non-finite sum do we look for the culprit.
        var sum: Float = 0
        for value in values { sum += value * 0 }
        guard sum.isNaN else { return }
        let index = values.firstIndex { !$0.isFinite }!
        throw ConversionError(.nonFiniteWeight, file: file, field: "tensor '\(tensor)'[\(index)]",
                              problem: "holds \(values[index]); a model with NaN or Inf weights cannot produce meaningful scores",
                              fix: "the checkpoint is damaged or was saved mid-divergence; use another checkpoint")
    }

    /// Numbers from the config checked against the tensors and the tokenizer; a mismatch names both sides.
    static func resolveArchitecture(config: inout HubConfig, weights: CheckpointWeights, spm: SentencePieceModel,
                                    tokenizer: TokenizerFiles, files: HubFiles, options: ConversionOptions) throws -> Architecture {
        let byName = Dictionary(weights.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func shape(_ name: String) throws -> [Int] {
            guard let tensor = byName[name] else {
                throw ConversionError(.missingTensor, file: weights.path, field: name, problem: "tensor is missing",
                                      fix: "this is not a complete PairRM checkpoint; download model weights again")
            }
            return tensor.shape
        }
        let embeddings = try shape("pretrained_model.embeddings.word_embeddings.weight")
        guard embeddings.count == 2 else {
            throw ConversionError(.wrongShape, file: weights.path, field: "pretrained_model.embeddings.word_embeddings.weight",
                                  problem: "has shape \(embeddings), expected [vocab, hidden]", fix: "use an unmodified PairRM checkpoint")
        }
        let layerPrefix = "pretrained_model.encoder.layer."
        let layers = Set(weights.tensors.compactMap { tensor -> Int? in
            guard tensor.name.hasPrefix(layerPrefix) else { return nil }
            return Int(tensor.name.dropFirst(layerPrefix.count).prefix { $0 != "." })
        })
        let intermediate = try shape("pretrained_model.encoder.layer.0.intermediate.dense.weight")
        let relative = try shape("pretrained_model.encoder.rel_embeddings.weight")
        let head = try shape("head_layer.4.weight")
        let found = Architecture(hiddenSize: embeddings[1], numLayers: (layers.max() ?? -1) + 1,
                                 numHeads: options.numHeads ?? config.numHeads ?? 0,
                                 intermediateSize: intermediate.first ?? 0, vocabSize: embeddings[0],
                                 relativeRows: relative.first ?? 0, nTasks: head.first ?? 0)
        let configPath = (files.directory as NSString).appendingPathComponent(files.configName)
        func agree(_ field: String, _ configured: Int?, _ actual: Int, _ where_: String) throws {
            guard let configured, configured != actual else { return }
            throw ConversionError(.configMismatch, file: configPath, field: field,
                                  problem: "says \(configured) but \(where_) says \(actual)",
                                  fix: "config.json and the weights come from different models; download them together")
        }
        if config.layout == .pairrm, options.numHeads != nil {
            config.hiddenSize = nil  // the user vouches for the architecture; the tensors define its sizes
        }
        if config.layout == .pairrm, let configured = config.hiddenSize, configured != found.hiddenSize {
            throw ConversionError(.configMismatch, file: configPath, field: "model_name",
                                  problem: "names \(config.backboneName ?? "?") (hidden size \(configured)) but word_embeddings.weight has hidden size \(found.hiddenSize), so the number of attention heads is unknown",
                                  fix: "pass --heads N for this backbone, or convert the PairRM-hf layout whose config lists it")
        }
        try agree("hidden_size", config.hiddenSize, found.hiddenSize, "word_embeddings.weight shape[1]")
        try agree("num_hidden_layers", config.numLayers, found.numLayers, "the encoder.layer.N tensors")
        try agree("intermediate_size", config.intermediateSize, found.intermediateSize, "layer.0.intermediate.dense.weight shape[0]")
        try agree("vocab_size", config.vocabSize, found.vocabSize, "word_embeddings.weight shape[0]")
        if config.layout == .pairrmHF {
            try agree("position_buckets", config.positionBuckets * 2, found.relativeRows, "rel_embeddings.weight shape[0] (2 × buckets)")
        } else {
            config.positionBuckets = found.relativeRows / 2
        }
        try agree("n_tasks", config.nTasks, found.nTasks, "head_layer.4.weight shape[0]")
        guard found.numHeads > 0 else {
            throw ConversionError(.unsupportedConfig, file: configPath, field: "model_name",
                                  problem: "backbone \(config.backboneName ?? "(none)") is not a known DeBERTa-v3 size, so the number of attention heads is unknown",
                                  fix: "pass --heads N (deberta-v3-large: 16) or convert the PairRM-hf layout, whose config lists it")
        }
        guard found.hiddenSize % found.numHeads == 0, found.numLayers > 0, found.relativeRows > 0, found.relativeRows % 2 == 0 else {
            throw ConversionError(.configMismatch, file: configPath, field: "num_attention_heads",
                                  problem: "\(found.numHeads) heads do not divide hidden size \(found.hiddenSize) (or the encoder is empty)",
                                  fix: "check --heads / config.json against the weights")
        }
        // Embedding rows = spm pieces + added tokens beyond them ([MASK] and the four prefixes).
        let tokenizerSize = max(spm.pieces.count, (tokenizer.addedTokens.map(\.id).max() ?? -1) + 1)
        guard tokenizerSize == found.vocabSize else {
            throw ConversionError(.configMismatch, file: files.spm, field: "pieces",
                                  problem: "spm.model has \(spm.pieces.count) pieces and the added tokens reach id \(tokenizerSize - 1), but the embedding matrix has \(found.vocabSize) rows",
                                  fix: "the tokenizer files and the weights come from different models; download them together")
        }
        for (index, prefix) in TokenizerFiles.prefixStrings.enumerated() {
            guard let id = tokenizer.id(of: prefix) else {
                throw ConversionError(.malformedTokenizerFile, file: (files.directory as NSString).appendingPathComponent("added_tokens.json"),
                                      field: prefix, problem: "the PairRM prefix token is not registered",
                                      fix: "download added_tokens.json of the PairRM repository")
            }
            if let configured = config.prefixIDs {
                let expectedID = [configured.source, configured.candidate1, configured.candidate2, configured.candidate][index]
                try agree(["source_prefix_id", "cand1_prefix_id", "cand2_prefix_id", "cand_prefix_id"][index], expectedID, id,
                          "added_tokens.json (\(prefix))")
            }
        }
        return found
    }

    /// Every published tensor present with its exact shape, nothing else.
    static func checkTensorSet(expected: [ExpectedTensor], weights: CheckpointWeights) throws -> [String: SourceTensor] {
        var byName: [String: SourceTensor] = [:]
        for tensor in weights.tensors { byName[tensor.name] = tensor }
        for item in expected {
            guard let tensor = byName[item.name] else {
                throw ConversionError(.missingTensor, file: weights.path, field: item.name, problem: "tensor is missing",
                                      fix: "this is not a complete PairRM checkpoint; download the weights again")
            }
            guard tensor.shape == item.shape else {
                throw ConversionError(.wrongShape, file: weights.path, field: item.name,
                                      problem: "has shape \(tensor.shape), expected \(item.shape) from config.json and the other tensors",
                                      fix: "the weights do not match this architecture; use an unmodified PairRM checkpoint")
            }
        }
        let known = Set(expected.map(\.name))
        let extra = weights.tensors.map(\.name).filter { !known.contains($0) }
        if let first = extra.first {
            throw ConversionError(.unexpectedTensor, file: weights.path, field: first,
                                  problem: "is not part of PairRM (\(extra.count) unexpected tensor(s): \(extra.prefix(5).joined(separator: ", ")))",
                                  fix: "convert an unmodified PairRM checkpoint; a different architecture would be computed wrongly")
        }
        return byName
    }

    static func provenanceLine(name: String, path: String) throws -> String {
        var hash = SHA256Stream()
        let bytes = try HubFiles.read(path)
        bytes.withUnsafeBytes { hash.update($0) }
        return "\(name) \(bytes.count) sha256:\(hash.finalizeHex())"
    }

    static func buildMetadata(config: HubConfig, architecture a: Architecture, spm: SentencePieceModel, tokenizer: TokenizerFiles,
                              options: ConversionOptions, weights: CheckpointWeights, weightsName: String,
                              provenance: [String]) throws -> Metadata {
        var m = Metadata()
        m["general.architecture"] = .string("pairrm-deberta-v2")
        m["general.converter"] = .string("pairrm-swift \(version)")
        m["general.weights"] = .string(options.weights.rawValue)
        m["source.layout"] = .string(config.layout.rawValue)
        m["source.weights_file"] = .string(weightsName)
        m["source.weights_dtype"] = .string(weights.tensors.first?.dtype.rawValue ?? "F32")
        m["source.files"] = .array(provenance.map { .string($0) })
        if let backbone = config.backboneName { m["source.backbone"] = .string(backbone) }
        m["model.hidden_size"] = .int(Int64(a.hiddenSize))
        m["model.num_layers"] = .int(Int64(a.numLayers))
        m["model.num_heads"] = .int(Int64(a.numHeads))
        m["model.intermediate_size"] = .int(Int64(a.intermediateSize))
        m["model.vocab_size"] = .int(Int64(a.vocabSize))
        m["model.layer_norm_eps"] = .double(config.layerNormEps)
        m["model.position_buckets"] = .int(Int64(a.relativeRows / 2))
        m["model.max_relative_positions"] = .int(Int64(config.maxRelativePositions))
        m["model.hidden_act"] = .string(config.hiddenAct)
        m["model.pos_att_type"] = .array(config.posAttType.map { .string($0) })
        m["model.share_att_key"] = .bool(config.shareAttKey)
        m["model.n_tasks"] = .int(Int64(a.nTasks))
        m["pairrm.source_max_length"] = .int(Int64(config.sourceMaxLength))
        m["pairrm.candidate_max_length"] = .int(Int64(config.candidateMaxLength))
        m["pairrm.max_length"] = .int(Int64(config.sourceMaxLength + 2 * config.candidateMaxLength))
        func id(_ content: String) -> MetadataValue? { tokenizer.id(of: content).map { .int(Int64($0)) } }
        m["tokens.pad_id"] = spm.padID >= 0 ? .int(Int64(spm.padID)) : nil
        m["tokens.cls_id"] = id("[CLS]") ?? .int(Int64(spm.bosID))
        m["tokens.sep_id"] = id("[SEP]") ?? .int(Int64(spm.eosID))
        m["tokens.unk_id"] = .int(Int64(spm.unkID))
        m["tokens.mask_id"] = id("[MASK]")
        m["tokens.source_prefix_id"] = id("<|source|>")
        m["tokens.candidate1_prefix_id"] = id("<|candidate1|>")
        m["tokens.candidate2_prefix_id"] = id("<|candidate2|>")
        m["tokens.candidate_prefix_id"] = id("<|candidate|>")
        m["tokenizer.model"] = .string("unigram")
        m["tokenizer.normalizer"] = .string(spm.normalizerName)
        m["tokenizer.add_dummy_prefix"] = .bool(spm.addDummyPrefix)
        m["tokenizer.remove_extra_whitespaces"] = .bool(spm.removeExtraWhitespaces)
        m["tokenizer.escape_whitespaces"] = .bool(spm.escapeWhitespaces)
        m["tokenizer.byte_fallback"] = .bool(spm.byteFallback)
        m["tokenizer.treat_whitespace_as_suffix"] = .bool(spm.treatWhitespaceAsSuffix)
        m["tokenizer.do_lower_case"] = .bool(tokenizer.doLowerCase)
        m["tokenizer.split_by_punct"] = .bool(tokenizer.splitByPunct)
        m["tokenizer.piece_count"] = .int(Int64(spm.pieces.count))
        m["quantization.recipe"] = .array(options.weights.rules.map { .string($0) })
        if let plan = options.weights.activationPlan.map({ options.activations ?? $0 }) {
            m[ActivationPlan.metadataKey] = .array(plan.rules.map { .string($0) })
        }
        return m
    }
}
