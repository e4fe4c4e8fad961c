import Foundation
import Hummingbird
import PairRM
import PairRMProtocol

/// The request shapes of other rerank and reward servers, mapped onto PairRM (a pairwise model):
/// a list of texts for one query is ranked by LLM-Blender's `rank` (each text's mean logit
/// margin against all the others, "max_logits"); a reward against a reference answer is the
/// order-averaged comparison of the response with that reference. Relevance scores are the
/// logistic of the margin: in (0, 1), 0.5 = as good as the average of the other texts.
extension ScoringServer {
    /// The texts ranked against each other for `query`: PairRM's margins (raw) per index; a
    /// single text has no opponent and gets 0.
    static func margins(_ ranker: PairRanker, query: String, texts: [String], options: RankerOptions) throws -> [Float] {
        guard texts.count > 1 else { return Array(repeating: 0, count: texts.count) }
        return try ranker.rank(query, texts, options: options).scores ?? Array(repeating: 0, count: texts.count)
    }

    static func logistic(_ value: Float) -> Float { Float(1 / (1 + Foundation.exp(-Double(value)))) }

    /// Indices by score, best first (ties keep input order).
    static func order(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }

    /// The body as an object (compatible shapes take no arrays).
    static func object(_ request: Request, _ context: ScoringRequestContext, _ shared: Shared) async throws -> Result<JSONValue, Refusal> {
        switch try await readBody(request, context, shared) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value):
            guard case .object = value else { return .failure(Refusal(response: error(.unprocessableContent, "the body must be a JSON object", type: "Validation"))) }
            return .success(value)
        }
    }

    static func string(_ body: JSONValue, _ key: String, _ meaning: String = "") throws(Refusal) -> String {
        guard case .string(let text)? = body[key] else {
            throw Refusal(response: error(.unprocessableContent, "field \"\(key)\" must be a string\(meaning)", type: "Validation"))
        }
        return text
    }

    /// A non-empty list of strings in `body[key]`, within the item limit.
    static func strings(_ body: JSONValue, _ key: String, _ configuration: ServerConfiguration) throws(Refusal) -> [String] {
        guard case .array(let values)? = body[key] else {
            throw Refusal(response: error(.unprocessableContent, "field \"\(key)\" must be an array of strings", type: "Validation"))
        }
        if let refusal = itemCount(values.count, "field \"\(key)\"", configuration) { throw refusal }
        return try values.enumerated().map { (index, value) throws(Refusal) -> String in
            guard case .string(let text) = value else { throw Refusal(response: error(.unprocessableContent, "\(key)[\(index)] is not a string", type: "Validation")) }
            return text
        }
    }

    static func bool(_ body: JSONValue, _ key: String, default fallback: Bool) throws(Refusal) -> Bool {
        switch body[key] {
        case nil, .null?: return fallback
        case .bool(let value)?: return value
        default: throw Refusal(response: error(.unprocessableContent, "field \"\(key)\" must be true or false", type: "Validation"))
        }
    }

    /// Parses the body with `parse` and scores it; a refusal thrown by either is the response.
    static func handle<Input: Sendable>(_ request: Request, _ context: ScoringRequestContext, _ shared: Shared,
                                        parse: (JSONValue) throws(Refusal) -> Input, rejectTruncation: ((Input) -> Bool?)? = nil,
                                        _ work: @escaping @Sendable (PairRanker, RankerOptions, Input) throws -> Response) async throws -> Response {
        let input: Input
        do {
            switch try await object(request, context, shared) {
            case .failure(let refusal): return refusal.response
            case .success(let body): input = try parse(body)
            }
        } catch let refusal as Refusal {
            return refusal.response
        }
        return try await score(request, context, shared, rejectTruncation: rejectTruncation?(input)) { ranker, options in
            try work(ranker, options, input)
        }
    }

    static func addCompatibleRoutes(_ router: Router<ScoringRequestContext>, _ shared: Shared) {
        let configuration = shared.configuration

        // TEI: {query, texts, raw_scores?, return_text?, truncate?} → [{index, score, text?}] sorted by
        // score; raw_scores: true gives the margin itself; truncate: false turns an over-long text into 413.
        struct TEIRerank: Sendable { var query: String, texts: [String], raw: Bool, returnText: Bool, truncate: Bool }
        router.post("/rerank") { request, context in
            try await handle(request, context, shared, parse: { (body) throws(Refusal) in
                TEIRerank(query: try string(body, "query"), texts: try strings(body, "texts", configuration),
                          raw: try bool(body, "raw_scores", default: false), returnText: try bool(body, "return_text", default: false),
                          truncate: try bool(body, "truncate", default: true))
            }, rejectTruncation: { !$0.truncate }) { ranker, options, input in
                let scores = try margins(ranker, query: input.query, texts: input.texts, options: options)
                let results = order(scores).map { index -> JSONValue in
                    var members: [(String, JSONValue)] = [("index", .number(index)), ("score", .number(input.raw ? scores[index] : logistic(scores[index])))]
                    if input.returnText { members.append(("text", .string(input.texts[index]))) }
                    return .object(members)
                }
                return json(.ok, JSONValue.array(results).serialized)
            }
        }

        // Jina / Cohere / llama-server: {query, documents, top_n?, return_documents?} → {model, results, usage}.
        struct Rerank: Sendable { var query: String, documents: [String], topN: Int, returnDocuments: Bool }
        router.post("/v1/rerank") { request, context in
            try await handle(request, context, shared, parse: { (body) throws(Refusal) in
                let documents = try strings(body, "documents", configuration)
                var topN = documents.count
                switch body["top_n"] {
                case nil, .null?: break
                case .number(let text)? where Int(text).map({ $0 >= 1 }) == true: topN = min(Int(text)!, documents.count)
                default: throw Refusal(response: error(.unprocessableContent, "field \"top_n\" must be a positive integer", type: "Validation"))
                }
                return Rerank(query: try string(body, "query"), documents: documents, topN: topN,
                              returnDocuments: try bool(body, "return_documents", default: true))
            }) { ranker, options, input in
                let scores = try margins(ranker, query: input.query, texts: input.documents, options: options)
                let results = order(scores).prefix(input.topN).map { index -> JSONValue in
                    var members: [(String, JSONValue)] = [("index", .number(index)), ("relevance_score", .number(logistic(scores[index])))]
                    if input.returnDocuments { members.append(("document", .object([("text", .string(input.documents[index]))]))) }
                    return .object(members)
                }
                return json(.ok, JSONValue.object([
                    ("model", .string(configuration.modelName)), ("results", .array(Array(results))),
                    ("usage", .object([("forward_passes", .number(input.documents.count * (input.documents.count - 1)))])),  // every ordered pair once
                ]).serialized)
            }
        }

        // vLLM: {text_1: query, text_2: [texts] or text} → {object: "list", data: [{index, object: "score", score}]}.
        struct Score: Sendable { var query: String, texts: [String] }
        router.post("/score") { request, context in
            try await handle(request, context, shared, parse: { (body) throws(Refusal) in
                let query = try string(body, "text_1", " (the query)")
                if case .string(let single)? = body["text_2"] { return Score(query: query, texts: [single]) }
                return Score(query: query, texts: try strings(body, "text_2", configuration))
            }) { ranker, options, input in
                let scores = try margins(ranker, query: input.query, texts: input.texts, options: options)
                let data = scores.enumerated().map { JSONValue.object([("index", .number($0.offset)), ("object", .string("score")), ("score", .number(logistic($0.element)))]) }
                return json(.ok, JSONValue.object([("object", .string("list")), ("model", .string(configuration.modelName)), ("data", .array(data))]).serialized)
            }
        }

        // OpenRLHF remote reward model: {query: [prompt+response], prompts?: [prompt], labels?: [reference]}
        // → {rewards, scores, extra_logs}. With labels: reward_i = the order-averaged logit of the
        // response against the label (> 0: better than the reference). Without: responses sharing a
        // prompt are ranked against each other and reward_i is the response's mean margin (0 alone
        // in its group).
        struct Reward: Sendable { var prompts: [String], responses: [String], labels: [String]? }
        router.post("/get_reward") { request, context in
            try await handle(request, context, shared, parse: { (body) throws(Refusal) in
                let queries = try strings(body, "query", configuration)
                func parallel(_ key: String) throws(Refusal) -> [String]? {
                    guard body[key] != nil, body[key] != .null else { return nil }
                    let values = try strings(body, key, configuration)
                    guard values.count == queries.count else {
                        throw Refusal(response: error(.unprocessableContent, "\"\(key)\" has \(values.count) items but \"query\" has \(queries.count)", type: "Validation"))
                    }
                    return values
                }
                let prompts = try parallel("prompts") ?? Array(repeating: "", count: queries.count)
                // OpenRLHF sends prompt + response as one string: the response is what follows the prompt.
                let responses = zip(queries, prompts).map { query, prompt in query.hasPrefix(prompt) ? String(query.dropFirst(prompt.count)) : query }
                return Reward(prompts: prompts, responses: responses, labels: try parallel("labels"))
            }) { ranker, options, input in
                var rewards = Array(repeating: Float(0), count: input.responses.count)
                if let labels = input.labels {
                    for index in input.responses.indices {
                        rewards[index] = try ranker.compare(input.prompts[index], input.responses[index], labels[index], options: options).logit
                    }
                } else {
                    var groups: [String: [Int]] = [:]
                    for (index, prompt) in input.prompts.enumerated() { groups[prompt, default: []].append(index) }
                    for members in groups.values where members.count > 1 {
                        let scores = try margins(ranker, query: input.prompts[members[0]], texts: members.map { input.responses[$0] }, options: options)
                        for (slot, index) in members.enumerated() { rewards[index] = scores[slot] }
                    }
                }
                let values = JSONValue.array(rewards.map { .number($0) })
                return json(.ok, JSONValue.object([("rewards", values), ("scores", values), ("extra_logs", .object([]))]).serialized)
            }
        }
    }
}
