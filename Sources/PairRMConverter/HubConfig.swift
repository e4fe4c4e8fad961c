import Foundation

/// The architecture numbers the converter needs, from either published `config.json` form:
/// the DebertaV2Config of `llm-blender/PairRM-hf`, or the RankerConfig of `llm-blender/PairRM`
/// (which names a backbone, `model_name`, instead of listing its sizes; the sizes then come from
/// the tensor shapes and the number of heads from the known DeBERTa-v3 family).
public struct HubConfig: Sendable, Equatable {
    public enum Layout: String, Sendable { case pairrm, pairrmHF = "pairrm-hf" }

    public var layout: Layout
    public var hiddenSize: Int?
    public var numLayers: Int?
    public var numHeads: Int?
    public var intermediateSize: Int?
    public var vocabSize: Int?
    public var layerNormEps: Double = 1e-7
    public var positionBuckets: Int = 256
    public var maxRelativePositions: Int = 512
    public var hiddenAct: String = "gelu"
    public var posAttType: [String] = ["p2c", "c2p"]
    public var shareAttKey: Bool = true
    public var relativeAttention: Bool = true
    public var positionBiasedInput: Bool = false
    public var normRelEbd: String = "layer_norm"
    public var nTasks: Int = 1
    public var sourceMaxLength: Int = 1224
    public var candidateMaxLength: Int = 412
    /// Prefix ids from the HF config (`source_prefix_id` ...); nil in the RankerConfig form.
    public var prefixIDs: (source: Int, candidate1: Int, candidate2: Int, candidate: Int)?
    /// `model_name` of a RankerConfig ("microsoft/deberta-v3-large").
    public var backboneName: String?

    public static func == (lhs: HubConfig, rhs: HubConfig) -> Bool {
        lhs.layout == rhs.layout && lhs.hiddenSize == rhs.hiddenSize && lhs.numLayers == rhs.numLayers
            && lhs.numHeads == rhs.numHeads && lhs.vocabSize == rhs.vocabSize
    }

    /// (hidden size, heads) of the DeBERTa-v3 backbones a RankerConfig may name (their hub config.json files).
    public static let knownBackbones: [String: (hidden: Int, heads: Int)] = [
        "microsoft/deberta-v3-xsmall": (384, 6), "microsoft/deberta-v3-small": (768, 12),
        "microsoft/deberta-v3-base": (768, 12), "microsoft/deberta-v3-large": (1024, 16),
    ]

    public static func load(directory: String, fileName: String = "config.json") throws -> HubConfig {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let json = try JSONFile.object(at: path)
        func int(_ key: String) throws -> Int? { try JSONFile.int(json, key, file: path) }

        if json["ranker_type"] != nil || (json["model_type"] as? String) == "deberta" && json["model_name"] != nil {
            var config = HubConfig(layout: .pairrm)
            guard (json["ranker_type"] as? String ?? "pairranker") == "pairranker" else {
                throw ConversionError(.unsupportedConfig, file: path, field: "ranker_type",
                                      problem: "ranker_type \"\(json["ranker_type"]!)\" is not a pairwise ranker",
                                      fix: "only PairRM-style pair rankers (\"pairranker\") can be converted")
            }
            config.backboneName = json["model_name"] as? String
            config.sourceMaxLength = try int("source_maxlength") ?? 1224
            config.candidateMaxLength = try int("candidate_maxlength") ?? 412
            config.nTasks = try int("n_tasks") ?? 1
            if let name = config.backboneName, let known = knownBackbones[name] {
                config.hiddenSize = known.hidden
                config.numHeads = known.heads
            }
            return config
        }

        guard (json["model_type"] as? String) == "deberta-v2" else {
            throw ConversionError(.unsupportedConfig, file: path, field: "model_type",
                                  problem: "model_type is \(json["model_type"].map { "\"\($0)\"" } ?? "missing"); expected \"deberta-v2\" (PairRM-hf) or a RankerConfig (PairRM)",
                                  fix: "point the converter at a llm-blender/PairRM or llm-blender/PairRM-hf download")
        }
        var config = HubConfig(layout: .pairrmHF)
        config.hiddenSize = try int("hidden_size")
        config.numLayers = try int("num_hidden_layers")
        config.numHeads = try int("num_attention_heads")
        config.intermediateSize = try int("intermediate_size")
        config.vocabSize = try int("vocab_size")
        if let eps = json["layer_norm_eps"] as? NSNumber { config.layerNormEps = eps.doubleValue }
        config.positionBuckets = try int("position_buckets") ?? 256
        let maxRelative = try int("max_relative_positions") ?? -1
        let maxPositions = try int("max_position_embeddings") ?? 512
        config.maxRelativePositions = maxRelative < 1 ? maxPositions : maxRelative
        config.hiddenAct = json["hidden_act"] as? String ?? "gelu"
        if let types = json["pos_att_type"] as? [String] {
            config.posAttType = types
        } else if let joined = json["pos_att_type"] as? String {
            config.posAttType = joined.lowercased().split(separator: "|").map(String.init)
        }
        config.shareAttKey = json["share_att_key"] as? Bool ?? true
        config.relativeAttention = json["relative_attention"] as? Bool ?? false
        config.positionBiasedInput = json["position_biased_input"] as? Bool ?? true
        config.normRelEbd = (json["norm_rel_ebd"] as? String ?? "none").lowercased()
        config.nTasks = try int("n_tasks") ?? 1
        if let source = try int("source_prefix_id"), let c1 = try int("cand1_prefix_id"), let c2 = try int("cand2_prefix_id") {
            config.prefixIDs = (source, c1, c2, try int("cand_prefix_id") ?? c2 + 1)
        }
        try config.checkSupported(file: path)
        return config
    }

    /// The runtime implements exactly PairRM's DeBERTa-v3 variant; anything else is refused here
    /// rather than converted into a file that would compute something else.
    func checkSupported(file: String) throws {
        func refuse(_ field: String, _ value: String, _ expected: String) -> ConversionError {
            ConversionError(.unsupportedConfig, file: file, field: field,
                            problem: "\(field) = \(value) is not supported (PairRM uses \(expected))",
                            fix: "only DeBERTa-v3 PairRM checkpoints can be converted")
        }
        guard hiddenAct == "gelu" else { throw refuse("hidden_act", hiddenAct, "\"gelu\"") }
        guard relativeAttention else { throw refuse("relative_attention", "false", "true") }
        guard !positionBiasedInput else { throw refuse("position_biased_input", "true", "false") }
        guard shareAttKey else { throw refuse("share_att_key", "false", "true") }
        guard Set(posAttType) == ["p2c", "c2p"] else { throw refuse("pos_att_type", "\(posAttType)", "[\"p2c\",\"c2p\"]") }
        guard normRelEbd == "layer_norm" else { throw refuse("norm_rel_ebd", normRelEbd, "\"layer_norm\"") }
        guard positionBuckets > 0 else { throw refuse("position_buckets", "\(positionBuckets)", "256") }
        guard nTasks == 1 else { throw refuse("n_tasks", "\(nTasks)", "1") }
    }
}

/// Small helpers for reading the hub's JSON files with precise errors.
enum JSONFile {
    static func object(at path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConversionError(.missingFile, file: path, field: "(file)", problem: "cannot be read",
                                  fix: "download the complete model repository (config.json, spm.model, model.safetensors, tokenizer files)")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConversionError(.malformedJSON, file: path, field: "(json)", problem: "is not valid JSON (\(error.localizedDescription))",
                                  fix: "download the file again")
        }
        guard let object = parsed as? [String: Any] else {
            throw ConversionError(.malformedJSON, file: path, field: "(json)", problem: "the top level is not a JSON object",
                                  fix: "download the file again")
        }
        return object
    }

    static func int(_ object: [String: Any], _ key: String, file: String) throws -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber,
              let exact = Int(exactly: number.doubleValue) else {
            throw ConversionError(.malformedJSON, file: file, field: key, problem: "\(value) is not an integer",
                                  fix: "fix the value in the file or download it again")
        }
        return exact
    }
}
