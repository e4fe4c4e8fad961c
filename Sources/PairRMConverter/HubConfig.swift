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

    /// Bounds for the position settings: DeBERTa-v3 uses 512; anything beyond this is not a
    /// PairRM checkpoint (and would overflow the runtime's 32-bit position tables).
    public static let maxPositionsLimit = 1 << 20
    /// `layer_norm_eps` must lie in (0, 1e-2]: PairRM uses 1e-7; larger values change the
    /// model's function, smaller than float32's normal range vanish in the runtime's float math.
    public static let layerNormEpsRange: ClosedRange<Double> = Double(Float.leastNormalMagnitude)...1e-2

    /// `pad_token_id` (null in the config means "no pad token", as transformers reads it).
    public var padTokenID: Int?
    /// `type_vocab_size` (0 or absent for PairRM: it has no token type embeddings).
    public var typeVocabSize: Int?
    /// Which key `maxRelativePositions` came from (`max_relative_positions`, or
    /// `max_position_embeddings` when the former is below 1, as in transformers).
    public var maxRelativePositionsKey = "max_relative_positions"

    public static func load(directory: String, fileName: String = "config.json") throws -> HubConfig {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let json = try JSONFile.object(at: path)
        let read = JSONFile.Typed(object: json, file: path)
        func int(_ key: String) throws -> Int? { try read.int(key) }

        if json["ranker_type"] != nil || (json["model_type"] as? String) == "deberta" && json["model_name"] != nil {
            var config = HubConfig(layout: .pairrm)
            let rankerType = try read.string("ranker_type") ?? "pairranker"
            guard rankerType == "pairranker" else {
                throw ConversionError(.unsupportedConfig, file: path, field: "ranker_type",
                                      problem: "ranker_type \"\(rankerType)\" is not a pairwise ranker",
                                      fix: "only PairRM-style pair rankers (\"pairranker\") can be converted")
            }
            config.backboneName = try read.string("model_name")
            config.sourceMaxLength = try read.int("source_maxlength", in: 1...maxPositionsLimit) ?? 1224
            config.candidateMaxLength = try read.int("candidate_maxlength", in: 1...maxPositionsLimit) ?? 412
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
        config.hiddenSize = try read.int("hidden_size", in: 1...maxPositionsLimit)
        config.numLayers = try read.int("num_hidden_layers", in: 1...4096)
        config.numHeads = try read.int("num_attention_heads", in: 1...4096)
        config.intermediateSize = try read.int("intermediate_size", in: 1...Int(Int32.max))
        config.vocabSize = try read.int("vocab_size", in: 1...Int(Int32.max))
        if let eps = try read.double("layer_norm_eps") {
            guard eps.isFinite, layerNormEpsRange.contains(eps) else {
                throw ConversionError(.unsupportedConfig, file: path, field: "layer_norm_eps",
                                      problem: "layer_norm_eps = \(eps) is not a usable LayerNorm epsilon (it must be finite and within \(layerNormEpsRange.lowerBound)...\(layerNormEpsRange.upperBound); PairRM uses 1e-07)",
                                      fix: "set \"layer_norm_eps\": 1e-07 as in the published config.json, or download it again")
            }
            config.layerNormEps = eps
        }
        config.positionBuckets = try read.int("position_buckets", in: -maxPositionsLimit...maxPositionsLimit) ?? 256
        let maxRelative = try int("max_relative_positions") ?? -1
        let maxPositions = try read.int("max_position_embeddings", in: 1...maxPositionsLimit) ?? 512
        if maxRelative < 1 {
            config.maxRelativePositions = maxPositions
            config.maxRelativePositionsKey = "max_position_embeddings"
        } else {
            guard maxRelative <= maxPositionsLimit else { throw read.outOfRange("max_relative_positions", maxRelative, 1...maxPositionsLimit) }
            config.maxRelativePositions = maxRelative
        }
        config.hiddenAct = try read.string("hidden_act") ?? "gelu"
        config.posAttType = try read.stringList("pos_att_type") ?? ["p2c", "c2p"]
        config.shareAttKey = try read.bool("share_att_key") ?? true
        config.relativeAttention = try read.bool("relative_attention") ?? false
        config.positionBiasedInput = try read.bool("position_biased_input") ?? true
        config.normRelEbd = (try read.string("norm_rel_ebd") ?? "none").lowercased()
        config.nTasks = try int("n_tasks") ?? 1
        config.typeVocabSize = try int("type_vocab_size")
        config.padTokenID = try read.int("pad_token_id", nullable: true)
        if let padTokenID = config.padTokenID, padTokenID < 0 {
            throw read.outOfRange("pad_token_id", padTokenID, 0...Int(Int32.max))
        }
        let prefixRange = 0...Int(Int32.max)
        if let source = try read.int("source_prefix_id", in: prefixRange), let c1 = try read.int("cand1_prefix_id", in: prefixRange),
           let c2 = try read.int("cand2_prefix_id", in: prefixRange) {
            config.prefixIDs = (source, c1, c2, try read.int("cand_prefix_id", in: prefixRange) ?? c2 + 1)
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
        if let typeVocabSize, typeVocabSize != 0 {
            throw ConversionError(.unsupportedConfig, file: file, field: "type_vocab_size",
                                  problem: "type_vocab_size = \(typeVocabSize), but PairRM has no token type embeddings (it uses 0, and a token_type_embeddings tensor would be refused)",
                                  fix: "set \"type_vocab_size\": 0 as in the published config.json; only DeBERTa-v3 PairRM checkpoints can be converted")
        }
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
            // Python's json writes NaN/Infinity for non-finite floats; name the key holding one.
            if let (key, token) = nonFiniteLiteral(in: Array(data)) {
                throw ConversionError(.malformedJSON, file: path, field: key,
                                      problem: "is \(token), which is not a JSON number (and no model setting may be non-finite)",
                                      fix: "replace \(key)'s value with a finite number (see the published config.json) or download the file again")
            }
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
        guard let number = value as? NSNumber, !isBoolean(number),
              let exact = Int(exactly: number.doubleValue) else {
            throw ConversionError(.malformedJSON, file: file, field: key, problem: "\(value) is not an integer",
                                  fix: "fix the value in the file or download it again")
        }
        return exact
    }

    /// JSON `true`/`false` arrive as NSNumbers too; tell them apart from 1 and 0.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// The first bare `NaN` / `Infinity` / `-Infinity` outside a string, with the key before it.
    static func nonFiniteLiteral(in bytes: [UInt8]) -> (key: String, token: String)? {
        var index = 0
        var lastString = "(json)", lastKey = "(json)"
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
                lastString = String(decoding: bytes[(index + 1)..<min(end, bytes.count)], as: UTF8.self)
                index = end + 1
                continue
            }
            if byte == UInt8(ascii: ":") { lastKey = lastString }
            for token in ["NaN", "-Infinity", "Infinity"] where bytes[index...].starts(with: token.utf8) {
                return (lastKey, token)
            }
            index += 1
        }
        return nil
    }

    /// Typed reads of a config object: an absent key is nil (the caller's default applies), but a
    /// present key of the wrong type — including null — is refused by name rather than silently
    /// replaced by the default.
    struct Typed {
        let object: [String: Any]
        let file: String

        func wrongType(_ key: String, _ value: Any, expected: String) -> ConversionError {
            let shown: String
            if value is NSNull {
                shown = "null"
            } else if let number = value as? NSNumber {
                shown = isBoolean(number) ? (number.boolValue ? "true" : "false") : "the number \(number)"
            } else if let text = value as? String {
                shown = "the string \"\(text)\""
            } else if value is [Any] {
                shown = "an array"
            } else if value is [String: Any] {
                shown = "an object"
            } else {
                shown = "\(value)"
            }
            return ConversionError(.malformedJSON, file: file, field: key, problem: "is \(shown), expected \(expected)",
                                   fix: "set \(key) to \(expected) as in the published config.json, or remove the key to use the default")
        }

        func outOfRange(_ key: String, _ value: Int, _ range: ClosedRange<Int>) -> ConversionError {
            ConversionError(.unsupportedConfig, file: file, field: key,
                            problem: "\(key) = \(value) is outside the sane range \(range.lowerBound)...\(range.upperBound)",
                            fix: "set \(key) to the value of the published config.json, or download it again")
        }

        private func present(_ key: String, nullable: Bool = false, expected: String) throws -> Any? {
            guard let value = object[key] else { return nil }
            if value is NSNull {
                if nullable { return nil }
                throw wrongType(key, value, expected: expected)
            }
            return value
        }

        func int(_ key: String, in range: ClosedRange<Int>? = nil, nullable: Bool = false) throws -> Int? {
            guard let value = try present(key, nullable: nullable, expected: "an integer") else { return nil }
            guard let number = value as? NSNumber, !isBoolean(number) else { throw wrongType(key, value, expected: "an integer") }
            guard let exact = Int(exactly: number.doubleValue) else {
                throw ConversionError(.malformedJSON, file: file, field: key, problem: "\(number) is not an integer that fits in 64 bits",
                                      fix: "set \(key) to the integer of the published config.json, or download it again")
            }
            if let range, !range.contains(exact) { throw outOfRange(key, exact, range) }
            return exact
        }

        func double(_ key: String) throws -> Double? {
            guard let value = try present(key, expected: "a number") else { return nil }
            guard let number = value as? NSNumber, !isBoolean(number) else { throw wrongType(key, value, expected: "a number") }
            return number.doubleValue
        }

        func string(_ key: String) throws -> String? {
            guard let value = try present(key, expected: "a string") else { return nil }
            guard let text = value as? String else { throw wrongType(key, value, expected: "a string") }
            return text
        }

        func bool(_ key: String) throws -> Bool? {
            guard let value = try present(key, expected: "true or false") else { return nil }
            guard let number = value as? NSNumber, isBoolean(number) else { throw wrongType(key, value, expected: "true or false") }
            return number.boolValue
        }

        /// An array of strings, or one string joined with "|" (transformers accepts both).
        func stringList(_ key: String) throws -> [String]? {
            guard let value = try present(key, expected: "an array of strings") else { return nil }
            if let joined = value as? String { return joined.lowercased().split(separator: "|").map(String.init) }
            guard let items = value as? [Any], let strings = items as? [String], strings.count == items.count else {
                throw wrongType(key, value, expected: "an array of strings")
            }
            return strings
        }
    }
}
