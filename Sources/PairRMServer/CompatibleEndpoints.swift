import Foundation
import Hummingbird
import PairRM
import PairRMProtocol

/// The request shapes of other rerank and reward servers, mapped onto PairRM (a pairwise model):
/// a list of texts for one query is ranked by LLM-Blender's `rank` (each text's mean logit
/// margin against all the others, "max_logits"); a reward against a reference answer is the
/// order-averaged comparison of the response with that reference.
extension ScoringServer {
    /// The texts ranked against each other for `query`: PairRM's margins (raw) per index.
    static func margins(_ ranker: PairRanker, query: String, texts: [String], options: RankerOptions) throws -> [Float] {
        try ranker.rank(query, texts, options: options).scores ?? Array(repeating: 0, count: texts.count)
    }

    static func logistic(_ value: Float) -> Float { Float(1 / (1 + Foundation.exp(-Double(value)))) }

    /// A list of strings in `body[key]`, or the 422 that says what is wrong.
    static func strings(_ body: JSONValue, _ key: String, _ configuration: ServerConfiguration, allowEmpty: Bool = false) -> Result<[String], ValidationFailure> {
        guard case .array(let values)? = body[key] else { return .failure(ValidationFailure(message: "field \"\(key)\" must be an array of strings")) }
        guard allowEmpty || !values.isEmpty else { return .failure(ValidationFailure(message: "field \"\(key)\" is empty")) }
        guard values.count <= configuration.maxItemsPerRequest else {
            return .failure(ValidationFailure(message: "field \"\(key)\" has \(values.count) items; this server takes at most \(configuration.maxItemsPerRequest)", tooLarge: true))
        }
        var result: [String] = []
        for (index, value) in values.enumerated() {
            guard case .string(let text) = value else { return .failure(ValidationFailure(message: "\(key)[\(index)] is not a string")) }
            result.append(text)
        }
        return .success(result)
    }

    struct ValidationFailure: Error {
        var message: String
        var tooLarge = false
        var response: Response { error(tooLarge ? .contentTooLarge : .unprocessableContent, message, type: "Validation") }
    }

    /// A refusal already rendered as its response.
    struct Refusal: Error { var response: Response }

    static func body(_ request: Request, _ configuration: ServerConfiguration) async throws -> Result<JSONValue, Refusal> {
        switch try await readItems(request, configuration, allowArray: false) {
        case .failure(let response): return .failure(Refusal(response: response))
        case .success(let parsed): return .success(parsed.items[0])
        }
    }

    static func addCompatibleRoutes(_ router: Router<BasicRequestContext>, ranker: PairRanker, configuration: ServerConfiguration, gate: AdmissionGate) {
        // Jina / Cohere: {query, documents, top_n?, return_documents?} → {model, results, usage}.
        router.post("/v1/rerank") { request, _ -> Response in
            if let refused = authorize(request, configuration) { return refused }
            let body: JSONValue, documents: [String]
            switch try await self.body(request, configuration) {
            case .failure(let failure): return failure.response
            case .success(let value): body = value
            }
            guard case .string(let query)? = body["query"] else { return error(.unprocessableContent, "field \"query\" must be a string", type: "Validation") }
            switch strings(body, "documents", configuration) {
            case .failure(let failure): return failure.response
            case .success(let value): documents = value
            }
            var topN = documents.count
            if case .number(let text)? = body["top_n"] {
                guard let value = Int(text), value >= 1 else { return error(.unprocessableContent, "field \"top_n\" must be a positive integer", type: "Validation") }
                topN = min(value, documents.count)
            }
            let returnDocuments = body["return_documents"] != .bool(false)
            return try await gate.run { [documents, topN] in
                let scores = try margins(ranker, query: query, texts: documents, options: ranker.defaults)
                let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(topN)
                let results = order.map { index -> JSONValue in
                    var members: [(String, JSONValue)] = [("index", .number(index)), ("relevance_score", .number(logistic(scores[index])))]
                    if returnDocuments { members.append(("document", .object([("text", .string(documents[index]))]))) }
                    return .object(members)
                }
                return json(.ok, JSONValue.object([
                    ("model", .string(configuration.modelName)), ("results", .array(results)),
                    ("usage", .object([("forward_passes", .number(documents.count * (documents.count - 1)))])),
                ]).serialized)
            } ?? overloaded()
        }

        // vLLM: {text_1: query, text_2: [texts] or text} → {object: "list", data: [{index, object: "score", score}]}.
        router.post("/score") { request, _ -> Response in
            if let refused = authorize(request, configuration) { return refused }
            let body: JSONValue
            switch try await self.body(request, configuration) {
            case .failure(let failure): return failure.response
            case .success(let value): body = value
            }
            guard case .string(let query)? = body["text_1"] else { return error(.unprocessableContent, "field \"text_1\" must be a string (the query)", type: "Validation") }
            var texts: [String] = []
            if case .string(let single)? = body["text_2"] {
                texts = [single]
            } else {
                switch strings(body, "text_2", configuration) {
                case .failure(let failure): return failure.response
                case .success(let value): texts = value
                }
            }
            return try await gate.run { [texts] in
                let scores = texts.count == 1 ? [0] : try margins(ranker, query: query, texts: texts, options: ranker.defaults)
                let data = scores.enumerated().map { JSONValue.object([("index", .number($0.offset)), ("object", .string("score")), ("score", .number(logistic($0.element)))]) }
                return json(.ok, JSONValue.object([("object", .string("list")), ("model", .string(configuration.modelName)), ("data", .array(data))]).serialized)
            } ?? overloaded()
        }

        // OpenRLHF remote reward model: {query: [prompt+response], prompts?: [prompt], labels?: [reference]}
        // → {rewards, scores, extra_logs}. With labels: reward_i = L(prompt, response, label) order-averaged
        // (> 0: better than the reference). Without: responses sharing a prompt are ranked
        // against each other and reward_i is the response's mean margin (0 alone in its group).
        router.post("/get_reward") { request, _ -> Response in
            if let refused = authorize(request, configuration) { return refused }
            let body: JSONValue, queries: [String]
            switch try await self.body(request, configuration) {
            case .failure(let failure): return failure.response
            case .success(let value): body = value
            }
            switch strings(body, "query", configuration) {
            case .failure(let failure): return failure.response
            case .success(let value): queries = value
            }
            var prompts = Array(repeating: "", count: queries.count)
            if body["prompts"] != nil {
                switch strings(body, "prompts", configuration) {
                case .failure(let failure): return failure.response
                case .success(let value):
                    guard value.count == queries.count else { return error(.unprocessableContent, "\"prompts\" has \(value.count) items but \"query\" has \(queries.count)", type: "Validation") }
                    prompts = value
                }
            }
            var labels: [String]?
            if body["labels"] != nil {
                switch strings(body, "labels", configuration) {
                case .failure(let failure): return failure.response
                case .success(let value):
                    guard value.count == queries.count else { return error(.unprocessableContent, "\"labels\" has \(value.count) items but \"query\" has \(queries.count)", type: "Validation") }
                    labels = value
                }
            }
            // OpenRLHF sends prompt + response as one string: the response is what follows the prompt.
            let responses = zip(queries, prompts).map { query, prompt in query.hasPrefix(prompt) ? String(query.dropFirst(prompt.count)) : query }
            return try await gate.run { [prompts, labels, responses] in
                var rewards = Array(repeating: Float(0), count: responses.count)
                if let labels {
                    for index in responses.indices {
                        rewards[index] = try ranker.compare(prompts[index], responses[index], labels[index]).logit
                    }
                } else {
                    var groups: [String: [Int]] = [:]
                    for (index, prompt) in prompts.enumerated() { groups[prompt, default: []].append(index) }
                    for (prompt, members) in groups where members.count > 1 {
                        let scores = try margins(ranker, query: prompt, texts: members.map { responses[$0] }, options: ranker.defaults)
                        for (slot, index) in members.enumerated() { rewards[index] = scores[slot] }
                    }
                }
                let values = JSONValue.array(rewards.map { .number($0) })
                return json(.ok, JSONValue.object([("rewards", values), ("scores", values), ("extra_logs", .object([]))]).serialized)
            } ?? overloaded()
        }
    }
}
