import Foundation
import PairRMFormat
import PairRMSchema

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
    /// Metadata written over the converter's own values (nil removes a key). For tests and
    /// experiments that need a file with unusual metadata (the runtime must refuse or survive
    /// it); the tensors are unaffected.
    public var metadataOverrides: [String: MetadataValue?] = [:]

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
        let source = try CheckpointSource(directory: directory, options: options)
        let layout = try OutputLayout(source: source, options: options)
        try OutputPath.check(output, inputs: source.inputPaths)
        let writer = try ContainerWriter(path: output, tensorCodec: options.compressTensors ? .zstd : .raw,
                                         zstdLevel: options.zstdLevel)
        do {
            try writer.beginTensors(layout.plan)
            let totalBytes = try writeTensors(source: source, layout: layout, writer: writer, progress: progress)
            let metadata = try outputMetadata(source: source, layout: layout, options: options)
            try writer.finish(vocabulary: source.tokenizer.vocabulary(from: source.spm), metadata: metadata)
            return ConversionReport(output: output, layout: source.config.layout, architecture: source.architecture,
                                    tensorCount: layout.plan.count, sourceWeightBytes: totalBytes,
                                    outputBytes: try HubFiles.size(output), seconds: Date().timeIntervalSince(started))
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Everything read and checked from the checkpoint before any output is written.
    struct CheckpointSource {
        let directory: String
        let files: HubFiles
        let config: HubConfig
        let spm: SentencePieceModel
        let tokenizer: TokenizerFiles
        let weights: CheckpointWeights
        /// SHA-256 of the weights file, computed on the second core while the first converts it.
        let weightsHash: BackgroundSHA256
        let architecture: Architecture
        let expected: [ExpectedTensor]
        let sourceByName: [String: SourceTensor]

        init(directory: String, options: ConversionOptions) throws {
            self.directory = directory
            files = try HubFiles.locate(directory: directory, weightsFile: options.weightsFile)
            var config = try HubConfig.load(directory: directory)
            spm = try SentencePieceModel.parse(try HubFiles.read(files.spm), file: files.spm)
            tokenizer = try TokenizerFiles.load(directory: directory, spm: spm)
            weightsHash = BackgroundSHA256(path: files.weights)
            weights = files.weights.hasSuffix(".bin") ? try TorchCheckpoint(path: files.weights) : try SafetensorsFile(path: files.weights)
            architecture = try resolveArchitecture(config: &config, weights: weights, spm: spm, tokenizer: tokenizer,
                                                   files: files, options: options)
            self.config = config
            expected = architecture.expectedTensors
            sourceByName = try checkTensorSet(expected: expected, weights: weights)
        }
    }

    /// What the output holds, in order: the checkpoint's tensors, the derived position
    /// projections and, for recipes that quantize activations, the outlier side tensors.
    struct OutputLayout {
        let plan: [TensorPlan]
        let outliers: OutlierPlan
        /// Weight name → its outlier input columns (kept in f32 beside the quantized matrix).
        let outlierColumns: [String: [Int]]
        let quantizedActivations: Bool

        init(source: CheckpointSource, options: ConversionOptions) throws {
            // Outlier channels matter only where activations are quantized (int8/int4 recipes).
            quantizedActivations = options.weights.quantizesActivations
            outliers = quantizedActivations
                ? try OutlierPlan(architecture: source.architecture, weights: source.weights, sources: source.sourceByName)
                : OutlierPlan()
            let outlierColumns = outliers.channels(forWeight: source.architecture)
            self.outlierColumns = outlierColumns
            let sideTensors = source.expected.compactMap { item -> ExpectedTensor? in
                guard let channels = outlierColumns[item.name] else { return nil }
                return ExpectedTensor(name: OutlierPlan.sideTensorName(item.name), shape: [channels.count, item.shape[0]], role: .outlierColumns)
            }
            let all = source.expected + source.architecture.derivedTensors + sideTensors
            plan = all.map { TensorPlan(name: $0.name, dtype: options.weights.dtype(for: $0.role), shape: $0.shape) }
        }
    }

    /// Converts and writes every tensor of `layout.plan`, one at a time (the model is never held
    /// twice); returns the source bytes read.
    static func writeTensors(source: CheckpointSource, layout: OutputLayout, writer: ContainerWriter,
                             progress: ((ConversionProgress) -> Void)?) throws -> Int {
        let weights = source.weights
        let projections = PositionProjectionBuilder(architecture: source.architecture, layerNormEpsilon: source.config.layerNormEps)
        let totalBytes = source.expected.reduce(0) { $0 + source.sourceByName[$1.name]!.byteCount }
        let largest = source.expected.map { $0.shape.reduce(1, *) }.max() ?? 0
        let largestStored = layout.plan.compactMap { $0.dtype.byteSize(shape: $0.shape) }.max() ?? 0
        var floats = [Float](repeating: 0, count: largest)
        var stored = [UInt8](repeating: 0, count: largestStored)
        var sideValues: [String: [Float]] = [:]
        var done = 0
        for (index, item) in layout.plan.enumerated() {
            let tensor = source.sourceByName[item.name]
            let count = item.shape.reduce(1, *)
            try floats.withUnsafeMutableBufferPointer { buffer in
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                if let tensor {
                    try weights.readFloat32(tensor, into: values)
                    weights.release(tensor)
                    try checkFinite(UnsafeBufferPointer(values), tensor: item.name, file: weights.path)
                    projections.observe(item.name, UnsafeBufferPointer(values))
                    if let channels = layout.outlierColumns[item.name] {
                        sideValues[OutlierPlan.sideTensorName(item.name)] = extractColumns(channels, from: values, shape: item.shape)
                    }
                } else if let side = sideValues.removeValue(forKey: item.name) {
                    _ = values.update(from: side)
                } else {
                    _ = values.update(from: projections.take(item.name)!)
                }
                let size = item.dtype.byteSize(shape: item.shape)!
                try stored.withUnsafeMutableBytes { raw in
                    let destination = UnsafeMutableRawBufferPointer(rebasing: raw[0..<size])
                    encode(UnsafeBufferPointer(values), as: item.dtype, shape: item.shape, into: destination)
                    try writer.writeTensor(named: item.name, bytes: UnsafeRawBufferPointer(destination))
                }
            }
            done += tensor?.byteCount ?? 0
            progress?(ConversionProgress(tensorIndex: index + 1, tensorCount: layout.plan.count, tensorName: item.name,
                                         sourceBytesDone: done, sourceBytesTotal: totalBytes))
        }
        return totalBytes
    }

    /// Keeps the outlier input columns in f32, transposed, and takes them out of the quantized
    /// matrix (they would also inflate its row scales).
    static func extractColumns(_ channels: [Int], from values: UnsafeMutableBufferPointer<Float>, shape: [Int]) -> [Float] {
        let (rows, columns) = (shape[0], shape[1])
        var side = [Float](repeating: 0, count: channels.count * rows)
        for (slot, channel) in channels.enumerated() {
            for row in 0..<rows {
                side[slot * rows + row] = values[row * columns + channel]
                values[row * columns + channel] = 0
            }
        }
        return side
    }

    /// Provenance of every file read, the model's description and the quantization record.
    static func outputMetadata(source: CheckpointSource, layout: OutputLayout, options: ConversionOptions) throws -> Metadata {
        var provenance: [String] = []
        for name in ([source.files.configName] + source.files.extraConfigs + ["spm.model"] + source.tokenizer.filesRead).sorted() {
            provenance.append(try provenanceLine(name: name, path: (source.directory as NSString).appendingPathComponent(name)))
        }
        let weightsName = (source.files.weights as NSString).lastPathComponent
        provenance.append("\(weightsName) \(try HubFiles.size(source.files.weights)) sha256:\(try source.weightsHash.wait())")
        var metadata = try buildMetadata(config: source.config, architecture: source.architecture, spm: source.spm,
                                         tokenizer: source.tokenizer, options: options, weights: source.weights,
                                         weightsName: weightsName, provenance: provenance)
        if layout.quantizedActivations {
            metadata[MetadataKey.quantizationOutlierRatio] = .double(Double(OutlierPlan.ratio))
            for (consumer, channels) in layout.outliers.channels {
                metadata[OutlierPlan.metadataKey(consumer)] = .array(channels.map { MetadataValue.int(Int64($0)) })
            }
        }
        for (key, value) in options.metadataOverrides { metadata[key] = value }
        return metadata
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
        let embeddings = try shape(TensorNames.wordEmbeddings)
        guard embeddings.count == 2 else {
            throw ConversionError(.wrongShape, file: weights.path, field: TensorNames.wordEmbeddings,
                                  problem: "has shape \(embeddings), expected [vocab, hidden]", fix: "use an unmodified PairRM checkpoint")
        }
        let layerPrefix = TensorNames.layerPrefix
        let layers = Set(weights.tensors.compactMap { tensor -> Int? in
            guard tensor.name.hasPrefix(layerPrefix) else { return nil }
            return Int(tensor.name.dropFirst(layerPrefix.count).prefix { $0 != "." })
        })
        let intermediate = try shape(TensorNames.weight(TensorNames.Layer(0).intermediate))
        let relative = try shape(TensorNames.relativeEmbeddings)
        let head = try shape(TensorNames.weight(TensorNames.headOutput))
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
        // Log-bucketed relative positions need at least as many positions as buckets (PairRM:
        // 512 and 256); fewer would map distances onto nonsense rows of rel_embeddings.
        if config.layout == .pairrmHF, config.maxRelativePositions < found.relativeRows / 2 {
            throw ConversionError(.configMismatch, file: configPath, field: config.maxRelativePositionsKey,
                                  problem: "gives \(config.maxRelativePositions) relative positions, fewer than the \(found.relativeRows / 2) position buckets of rel_embeddings.weight (shape[0] \(found.relativeRows) = 2 × buckets)",
                                  fix: "use the published values: max_position_embeddings 512, max_relative_positions -1")
        }
        if let pad = config.padTokenID {
            guard pad < found.vocabSize else {
                throw ConversionError(.configMismatch, file: configPath, field: "pad_token_id",
                                      problem: "is \(pad) but word_embeddings.weight has only \(found.vocabSize) rows",
                                      fix: "use the published value (0), or download config.json again")
            }
            if spm.padID >= 0 { try agree("pad_token_id", pad, Int(spm.padID), "spm.model's pad_id") }
        }
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
        m[MetadataKey.generalArchitecture] = .string("pairrm-deberta-v2")
        m[MetadataKey.generalConverter] = .string("pairrm-swift \(version)")
        m[MetadataKey.generalWeights] = .string(options.weights.rawValue)
        m[MetadataKey.sourceLayout] = .string(config.layout.rawValue)
        m[MetadataKey.sourceWeightsFile] = .string(weightsName)
        m[MetadataKey.sourceWeightsDtype] = .string(weights.tensors.first?.dtype.rawValue ?? "F32")
        m[MetadataKey.sourceFiles] = .array(provenance.map { .string($0) })
        if let backbone = config.backboneName { m[MetadataKey.sourceBackbone] = .string(backbone) }
        m[MetadataKey.modelHiddenSize] = .int(Int64(a.hiddenSize))
        m[MetadataKey.modelNumLayers] = .int(Int64(a.numLayers))
        m[MetadataKey.modelNumHeads] = .int(Int64(a.numHeads))
        m[MetadataKey.modelIntermediateSize] = .int(Int64(a.intermediateSize))
        m[MetadataKey.modelVocabSize] = .int(Int64(a.vocabSize))
        m[MetadataKey.modelLayerNormEps] = .double(config.layerNormEps)
        m[MetadataKey.modelPositionBuckets] = .int(Int64(a.relativeRows / 2))
        m[MetadataKey.modelMaxRelativePositions] = .int(Int64(config.maxRelativePositions))
        m[MetadataKey.modelHiddenAct] = .string(config.hiddenAct)
        m[MetadataKey.modelPosAttType] = .array(config.posAttType.map { .string($0) })
        m[MetadataKey.modelShareAttKey] = .bool(config.shareAttKey)
        m[MetadataKey.modelNTasks] = .int(Int64(a.nTasks))
        m[MetadataKey.pairrmSourceMaxLength] = .int(Int64(config.sourceMaxLength))
        m[MetadataKey.pairrmCandidateMaxLength] = .int(Int64(config.candidateMaxLength))
        m[MetadataKey.pairrmMaxLength] = .int(Int64(config.sourceMaxLength + 2 * config.candidateMaxLength))
        func id(_ content: String) -> MetadataValue? { tokenizer.id(of: content).map { .int(Int64($0)) } }
        m[MetadataKey.tokensPadId] = spm.padID >= 0 ? .int(Int64(spm.padID)) : nil
        m[MetadataKey.tokensClsId] = id("[CLS]") ?? .int(Int64(spm.bosID))
        m[MetadataKey.tokensSepId] = id("[SEP]") ?? .int(Int64(spm.eosID))
        m[MetadataKey.tokensUnkId] = .int(Int64(spm.unkID))
        m[MetadataKey.tokensMaskId] = id("[MASK]")
        m[MetadataKey.tokensSourcePrefixId] = id("<|source|>")
        m[MetadataKey.tokensCandidate1PrefixId] = id("<|candidate1|>")
        m[MetadataKey.tokensCandidate2PrefixId] = id("<|candidate2|>")
        m[MetadataKey.tokensCandidatePrefixId] = id("<|candidate|>")
        m[MetadataKey.tokenizerModel] = .string("unigram")
        m[MetadataKey.tokenizerNormalizer] = .string(spm.normalizerName)
        m[MetadataKey.tokenizerAddDummyPrefix] = .bool(spm.addDummyPrefix)
        m[MetadataKey.tokenizerRemoveExtraWhitespaces] = .bool(spm.removeExtraWhitespaces)
        m[MetadataKey.tokenizerEscapeWhitespaces] = .bool(spm.escapeWhitespaces)
        m[MetadataKey.tokenizerByteFallback] = .bool(spm.byteFallback)
        m[MetadataKey.tokenizerTreatWhitespaceAsSuffix] = .bool(spm.treatWhitespaceAsSuffix)
        m[MetadataKey.tokenizerDoLowerCase] = .bool(tokenizer.doLowerCase)
        m[MetadataKey.tokenizerSplitByPunct] = .bool(tokenizer.splitByPunct)
        m[MetadataKey.tokenizerPieceCount] = .int(Int64(spm.pieces.count))
        m[MetadataKey.quantizationRecipe] = .array(options.weights.rules.map { .string($0) })
        if let plan = options.weights.activationPlan.map({ options.activations ?? $0 }) {
            m[ActivationPlan.metadataKey] = .array(plan.rules.map { .string($0) })
        }
        return m
    }
}
