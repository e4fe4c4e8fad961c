// The C entry points of pairrm.h. `@c @implementation` makes the compiler check every signature
// against the header (Sources/PairRMCABIHeader/include/pairrm.h), the single source of truth.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PairRMCABIHeader
import PairRM
import PairRMFormat
import PairRMConverter
import PairRMRuntime
import PairRMStore
import PairRMTokenizer

// MARK: - Library

@c @implementation
public func pairrm_version() -> UnsafePointer<CChar>! {
    UnsafePointer(StaticStrings.version)
}

@c @implementation
public func pairrm_abi_version() -> UInt32 {
    UInt32(PAIRRM_ABI_VERSION_MAJOR << 16 | PAIRRM_ABI_VERSION_MINOR << 8 | PAIRRM_ABI_VERSION_PATCH)
}

@c @implementation
public func pairrm_status_name(_ status: pairrm_status) -> UnsafePointer<CChar>! {
    UnsafePointer(StaticStrings.names[Int32(status)] ?? StaticStrings.unknown)
}

@c @implementation
public func pairrm_last_error() -> UnsafePointer<CChar>! {
    LastError.current
}

// MARK: - Models

func defaultModelParams() -> pairrm_model_params {
    var params = pairrm_model_params()
    params.size = UInt32(MemoryLayout<pairrm_model_params>.size)
    params.threads = 1
    params.batch_size = 1
    params.source_max_length = 0
    params.candidate_max_length = 0
    params.replace_separator_literals = 1
    params.reject_truncation = 0
    params.verify_tensors = 0
    params.max_pooled_contexts = 16
    params.buffer_no_copy = 0
    return params
}

@c @implementation
public func pairrm_model_default_params() -> pairrm_model_params {
    defaultModelParams()
}

/// Validated load settings.
struct LoadSettings {
    /// The caller's params applied to the model's default options.
    var overrides: (inout RankerOptions) -> Void = { _ in }
    var load: LoadOptions
    var pooled: Int
    var noCopy: Bool

    init(_ pointer: UnsafePointer<pairrm_model_params>?) throws {
        let p = try readParams(pointer, defaults: defaultModelParams(), "params")
        func flag(_ value: Int32, _ name: String) throws -> Bool {
            guard value == 0 || value == 1 else { throw invalid("params->\(name): \(value) is not 0 or 1") }
            return value == 1
        }
        guard p.threads >= 1, p.threads <= 1024 else { throw invalid("params->threads: \(p.threads) is not in 1...1024") }
        guard p.batch_size >= 1, p.batch_size <= 1024 else { throw invalid("params->batch_size: \(p.batch_size) is not in 1...1024") }
        guard p.max_pooled_contexts >= 1, p.max_pooled_contexts <= 1024 else {
            throw invalid("params->max_pooled_contexts: \(p.max_pooled_contexts) is not in 1...1024")
        }
        guard p.source_max_length >= 0, p.candidate_max_length >= 0 else {
            throw invalid("params->source_max_length/candidate_max_length: negative — use 0 for the model's values")
        }
        let separators = try flag(p.replace_separator_literals, "replace_separator_literals")
        let reject = try flag(p.reject_truncation, "reject_truncation")
        load = LoadOptions(verifyTensors: try flag(p.verify_tensors, "verify_tensors"),
                           readIntoMemory: try flag(p.read_into_memory, "read_into_memory"))
        noCopy = try flag(p.buffer_no_copy, "buffer_no_copy")
        pooled = Int(p.max_pooled_contexts)
        overrides = { options in
            options.threads = Int(p.threads)
            options.batchSize = Int(p.batch_size)
            options.replaceSeparatorLiterals = separators
            options.rejectTruncation = reject
            // 0 keeps the file's value.
            if p.source_max_length != 0 { options.sourceMaxLength = Int(p.source_max_length) }
            if p.candidate_max_length != 0 { options.candidateMaxLength = Int(p.candidate_max_length) }
        }
    }

    func makeRanker(_ model: PairRMModel) throws -> PairRanker {
        var options = PairRanker.defaultOptions(for: model)
        overrides(&options)
        return try PairRanker(model: model, options: options, maxPooledContexts: pooled)
    }
}

func publish(_ ranker: PairRanker, _ out: UnsafeMutablePointer<OpaquePointer?>) throws {
    out.pointee = try Registry.shared.insert(LoadedModel(ranker: ranker))
}

@c @implementation
public func pairrm_model_load_from_file(_ path: UnsafePointer<CChar>?, _ params: UnsafePointer<pairrm_model_params>?,
                                        _ out_model: UnsafeMutablePointer<OpaquePointer?>?) -> pairrm_status {
    out_model?.pointee = nil
    return guarded("pairrm_model_load_from_file") {
        guard let out_model else { throw invalid("out_model: is NULL — pass the address of a pairrm_model *") }
        let path = try text(path, "path")
        guard !path.isEmpty else { throw invalid("path: is empty — pass the path of a .prm file") }
        let settings = try LoadSettings(params)
        let model = try PairRMModel(path: path, options: settings.load)
        try publish(try settings.makeRanker(model), out_model)
    }
}

@c @implementation
public func pairrm_model_load(_ model: UnsafePointer<CChar>?, _ recipe: UnsafePointer<CChar>?,
                              _ params: UnsafePointer<pairrm_model_params>?,
                              _ out_model: UnsafeMutablePointer<OpaquePointer?>?) -> pairrm_status {
    out_model?.pointee = nil
    return guarded("pairrm_model_load") {
        guard let out_model else { throw invalid("out_model: is NULL — pass the address of a pairrm_model *") }
        let name = model == nil ? "" : try text(model, "model")
        let recipeName = recipe == nil ? "q8" : try text(recipe, "recipe")
        guard let weights = WeightsRecipe(rawValue: recipeName) else {
            throw invalid("recipe: \"\(recipeName)\" is not one of \(WeightsRecipe.allCases.map(\.rawValue).joined(separator: ", ")) (NULL means q8)")
        }
        let settings = try LoadSettings(params)
        let resolved = try ModelStore().resolve(name.isEmpty ? nil : name, recipe: weights)
        let loaded = try PairRMModel(path: resolved.path, options: settings.load)
        try publish(try settings.makeRanker(loaded), out_model)
    }
}

@c @implementation
public func pairrm_model_load_from_buffer(_ data: UnsafeRawPointer?, _ size: Int,
                                          _ params: UnsafePointer<pairrm_model_params>?,
                                          _ out_model: UnsafeMutablePointer<OpaquePointer?>?) -> pairrm_status {
    out_model?.pointee = nil
    return guarded("pairrm_model_load_from_buffer") {
        guard let out_model else { throw invalid("out_model: is NULL — pass the address of a pairrm_model *") }
        guard let data else { throw invalid("data: is NULL — pass the bytes of a .prm container") }
        guard size > 0 else { throw invalid("size: is 0 — pass the byte count of the container") }
        guard size <= 1 << 46 else { throw invalid("size: \(UInt(bitPattern: size)) bytes is not plausible (negative value cast to size_t?)") }
        let settings = try LoadSettings(params)
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        let file: ModelFile
        if settings.noCopy {
            file = try ModelFile(bytes: bytes, name: "<buffer>", owner: nil, options: settings.load)
        } else {
            let copy = AlignedBuffer(copying: bytes)
            file = try ModelFile(bytes: copy.bytes, name: "<buffer>", owner: copy, options: settings.load)
        }
        try publish(try settings.makeRanker(try PairRMModel(file: file)), out_model)
    }
}

@c @implementation
public func pairrm_model_free(_ model: OpaquePointer?) -> pairrm_status {
    guarded("pairrm_model_free") {
        guard let model else { return }
        try Registry.shared.remove(model)
    }
}

@c @implementation
public func pairrm_model_get_info(_ model: OpaquePointer?, _ info: UnsafeMutablePointer<pairrm_model_info>?) -> pairrm_status {
    guarded("pairrm_model_get_info") {
        let ranker = try Registry.shared.lookup(model).ranker
        guard let info else { throw invalid("info: is NULL — pass a pairrm_model_info with .size = sizeof(pairrm_model_info)") }
        let raw = UnsafeMutableRawPointer(info)
        let size = Int(raw.loadUnaligned(as: UInt32.self))
        guard size >= 8, size <= 4096 else {
            throw invalid("info->size: \(size) is not a struct size (uninitialized?) — set it to sizeof(pairrm_model_info)")
        }
        let config = ranker.model.config
        var value = pairrm_model_info()
        value.size = UInt32(size)
        value.hidden_size = Int32(config.hiddenSize)
        value.num_layers = Int32(config.numLayers)
        value.num_heads = Int32(config.numHeads)
        value.intermediate_size = Int32(config.intermediateSize)
        value.vocab_size = Int32(config.vocabSize)
        value.max_tokens = Int32(PairRMModel.maxTokens)
        value.source_max_length = Int32(ranker.defaults.sourceMaxLength)
        value.candidate_max_length = Int32(ranker.defaults.candidateMaxLength)
        value.tensors_zero_copy = ranker.model.file.tensorsAreZeroCopy ? 1 : 0
        value.tensor_count = UInt64(ranker.model.file.tensors.count)
        withUnsafeBytes(of: &value) { source in
            raw.copyMemory(from: source.baseAddress!, byteCount: min(size, source.count))
        }
    }
}

func metadataText(_ value: MetadataValue) -> String {
    switch value {
    case .string(let string): return string
    case .array(let values): return values.map(metadataText).joined(separator: "\n")
    default: return value.description
    }
}

@c @implementation
public func pairrm_model_get_metadata(_ model: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ buf: UnsafeMutablePointer<CChar>?,
                                      _ capacity: Int, _ out_required: UnsafeMutablePointer<Int>?) -> pairrm_status {
    guarded("pairrm_model_get_metadata") {
        let ranker = try Registry.shared.lookup(model).ranker
        let key = try text(key, "key")
        let capacity = try count(capacity, "capacity")
        guard let value = ranker.model.file.metadata[key] else {
            throw CError(Int32(PAIRRM_ERR_NOT_FOUND), "key: \"\(key)\" is not in the model's metadata")
        }
        let bytes = Array(metadataText(value).utf8)
        let required = bytes.count + 1
        out_required?.pointee = required
        if buf == nil && capacity == 0 { return }
        guard let buf else { throw invalid("buf: is NULL with capacity \(capacity)") }
        guard capacity >= required else {
            throw CError(Int32(PAIRRM_ERR_BUFFER_TOO_SMALL), "buf: capacity \(capacity) < \(required) bytes required (including the NUL)")
        }
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(buf).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        buf[bytes.count] = 0
    }
}

// MARK: - Scoring

func writeComparison(_ comparison: Comparison, _ logit: UnsafeMutablePointer<Float>?, _ verdict: UnsafeMutablePointer<pairrm_verdict>?) {
    logit?.pointee = comparison.logit
    verdict?.pointee = verdictCode(comparison.verdict)
}

@c @implementation
public func pairrm_model_compare(_ model: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ a: UnsafePointer<CChar>?,
                                 _ b: UnsafePointer<CChar>?, _ instruction: UnsafePointer<CChar>?, _ mode: pairrm_compare_mode,
                                 _ out_logit: UnsafeMutablePointer<Float>?, _ out_verdict: UnsafeMutablePointer<pairrm_verdict>?) -> pairrm_status {
    guarded("pairrm_model_compare") {
        let ranker = try Registry.shared.lookup(model).ranker
        let mode = try compareMode(mode)
        let comparison = try ranker.compare(try text(prompt, "prompt"), try text(a, "a"), try text(b, "b"),
                                            instruction: try text(instruction, "instruction", nullAsEmpty: true), mode: mode)
        writeComparison(comparison, out_logit, out_verdict)
    }
}

@c @implementation
public func pairrm_model_rank(_ model: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ instruction: UnsafePointer<CChar>?,
                              _ candidates: UnsafePointer<UnsafePointer<CChar>?>?, _ n_candidates: Int,
                              _ strategy: pairrm_rank_strategy, _ out_scores: UnsafeMutablePointer<Float>?,
                              _ out_ranks: UnsafeMutablePointer<Int32>?, _ capacity: Int) -> pairrm_status {
    guarded("pairrm_model_rank") {
        let ranker = try Registry.shared.lookup(model).ranker
        let prompt = try text(prompt, "prompt")
        let instruction = try text(instruction, "instruction", nullAsEmpty: true)
        let candidates = try texts(candidates, try count(n_candidates, "n_candidates"), "candidates")
        let capacity = try count(capacity, "capacity")
        let rankStrategy: RankStrategy
        switch Int32(strategy) {
        case Int32(PAIRRM_RANK_FULL): rankStrategy = .fullMatrix
        case Int32(PAIRRM_RANK_MERGE_SORT): rankStrategy = .mergeSort
        default: throw invalid("strategy: \(strategy) is not a pairrm_rank_strategy — use PAIRRM_RANK_FULL or _MERGE_SORT")
        }
        if (out_scores != nil || out_ranks != nil), capacity < candidates.count {
            throw CError(Int32(PAIRRM_ERR_BUFFER_TOO_SMALL),
                         "capacity: \(capacity) < n_candidates = \(candidates.count) — out_scores/out_ranks need one element per candidate")
        }
        let ranking = try ranker.rank(prompt, candidates, instruction: instruction, strategy: rankStrategy)
        for i in candidates.indices {
            out_scores?[i] = ranking.scores?[i] ?? .nan
            out_ranks?[i] = Int32(ranking.ranks[i])
        }
    }
}

func select(_ name: String, worst: Bool, _ model: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ instruction: UnsafePointer<CChar>?,
            _ candidates: UnsafePointer<UnsafePointer<CChar>?>?, _ n_candidates: Int, _ strategy: pairrm_select_strategy,
            _ start_order: UnsafePointer<Int32>?, _ out_index: UnsafeMutablePointer<Int32>?,
            _ out_order: UnsafeMutablePointer<Int32>?, _ capacity: Int) -> pairrm_status {
    guarded(name) {
        let ranker = try Registry.shared.lookup(model).ranker
        let prompt = try text(prompt, "prompt")
        let instruction = try text(instruction, "instruction", nullAsEmpty: true)
        let candidates = try texts(candidates, try count(n_candidates, "n_candidates"), "candidates")
        let capacity = try count(capacity, "capacity")
        let selection: SelectionStrategy
        switch Int32(strategy) {
        case Int32(PAIRRM_SELECT_BUBBLE):
            selection = .bubble(startOrder: start_order.map { p in (0..<candidates.count).map { Int(p[$0]) } })
        case Int32(PAIRRM_SELECT_FULL):
            guard start_order == nil else { throw invalid("start_order: must be NULL with PAIRRM_SELECT_FULL") }
            selection = .full
        default: throw invalid("strategy: \(strategy) is not a pairrm_select_strategy — use PAIRRM_SELECT_BUBBLE or _FULL")
        }
        if out_order != nil, capacity < candidates.count {
            throw CError(Int32(PAIRRM_ERR_BUFFER_TOO_SMALL),
                         "capacity: \(capacity) < n_candidates = \(candidates.count) — out_order needs one element per candidate")
        }
        let result = worst
            ? try ranker.worstOfN(prompt, candidates, instruction: instruction, strategy: selection)
            : try ranker.bestOfN(prompt, candidates, instruction: instruction, strategy: selection)
        out_index?.pointee = Int32(result.index)
        if let out_order {
            for (k, index) in result.order.prefix(candidates.count).enumerated() { out_order[k] = Int32(index) }
        }
    }
}

@c @implementation
public func pairrm_model_best_of_n(_ model: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ instruction: UnsafePointer<CChar>?,
                                   _ candidates: UnsafePointer<UnsafePointer<CChar>?>?, _ n_candidates: Int,
                                   _ strategy: pairrm_select_strategy, _ start_order: UnsafePointer<Int32>?,
                                   _ out_index: UnsafeMutablePointer<Int32>?, _ out_order: UnsafeMutablePointer<Int32>?,
                                   _ capacity: Int) -> pairrm_status {
    select("pairrm_model_best_of_n", worst: false, model, prompt, instruction, candidates, n_candidates, strategy,
           start_order, out_index, out_order, capacity)
}

@c @implementation
public func pairrm_model_worst_of_n(_ model: OpaquePointer?, _ prompt: UnsafePointer<CChar>?, _ instruction: UnsafePointer<CChar>?,
                                    _ candidates: UnsafePointer<UnsafePointer<CChar>?>?, _ n_candidates: Int,
                                    _ strategy: pairrm_select_strategy, _ start_order: UnsafePointer<Int32>?,
                                    _ out_index: UnsafeMutablePointer<Int32>?, _ out_order: UnsafeMutablePointer<Int32>?,
                                    _ capacity: Int) -> pairrm_status {
    select("pairrm_model_worst_of_n", worst: true, model, prompt, instruction, candidates, n_candidates, strategy,
           start_order, out_index, out_order, capacity)
}

func turns(_ pointer: UnsafePointer<pairrm_turn>?, _ n: Int, _ name: String) throws -> [Turn] {
    let n = try count(n, "n_\(name)")
    guard n >= 1 else { throw invalid("n_\(name): is 0 — a conversation needs at least one USER/ASSISTANT pair") }
    guard n <= Int(PAIRRM_MAX_TURNS) else { throw invalid("n_\(name): \(n) exceeds PAIRRM_MAX_TURNS (\(PAIRRM_MAX_TURNS))") }
    guard let pointer else { throw invalid("\(name): is NULL with n_\(name) = \(n)") }
    return try (0..<n).map { i in
        Turn(role: try text(pointer[i].role, "\(name)[\(i)].role"), content: try text(pointer[i].content, "\(name)[\(i)].content"))
    }
}

@c @implementation
public func pairrm_model_compare_conversations(_ model: OpaquePointer?, _ a: UnsafePointer<pairrm_turn>?, _ n_a: Int,
                                               _ b: UnsafePointer<pairrm_turn>?, _ n_b: Int, _ mode: pairrm_compare_mode,
                                               _ out_logit: UnsafeMutablePointer<Float>?,
                                               _ out_verdict: UnsafeMutablePointer<pairrm_verdict>?) -> pairrm_status {
    guarded("pairrm_model_compare_conversations") {
        let ranker = try Registry.shared.lookup(model).ranker
        let mode = try compareMode(mode)
        let comparison = try ranker.compareConversations(try turns(a, n_a, "a"), try turns(b, n_b, "b"), mode: mode)
        writeComparison(comparison, out_logit, out_verdict)
    }
}

// MARK: - Tokenizer

@c @implementation
public func pairrm_model_tokenize(_ model: OpaquePointer?, _ text: UnsafePointer<CChar>?, _ out_ids: UnsafeMutablePointer<Int32>?,
                                  _ capacity: Int, _ out_count: UnsafeMutablePointer<Int>?) -> pairrm_status {
    guarded("pairrm_model_tokenize") {
        let ranker = try Registry.shared.lookup(model).ranker
        guard let out_count else { throw invalid("out_count: is NULL — it receives the number of ids") }
        let string = try PairRMCABI.text(text, "text")
        let capacity = try count(capacity, "capacity")
        let ids = ranker.tokenizer.encode(string)
        out_count.pointee = ids.count
        if out_ids == nil && capacity == 0 { return }
        guard let out_ids else { throw invalid("out_ids: is NULL with capacity \(capacity)") }
        guard capacity >= ids.count else {
            throw CError(Int32(PAIRRM_ERR_BUFFER_TOO_SMALL), "out_ids: capacity \(capacity) < \(ids.count) ids required (see *out_count)")
        }
        ids.withUnsafeBufferPointer { out_ids.update(from: $0.baseAddress!, count: ids.count) }
    }
}
