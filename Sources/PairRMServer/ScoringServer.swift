import Foundation
import Hummingbird
import PairRM
import PairRMProtocol

/// Limits and place of the scoring server.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body; larger ones get 413.
    public var maxBodyBytes = 8 << 20
    /// Items (lines of an array, texts of a rerank) per request; more get 413.
    public var maxItemsPerRequest = 1024
    /// Requests scored at once; each runs off the event loop.
    public var workers = 1
    /// Requests waiting for a worker beyond which new ones get 429 with Retry-After.
    public var queueLimit = 64
    /// When set, every request but /health needs `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// What /info reports as the model.
    public var modelName = "PairRM"

    public init() {}
}

/// `pairrm serve`: the CLI's JSON request/response objects over HTTP (one shared protocol module,
/// PairRMProtocol), TEI's /rerank, /health and /info, on Hummingbird. Scoring runs off the event
/// loop behind a bounded queue: a full queue answers 429, never unbounded memory.
public enum ScoringServer {
    /// The native endpoints: path → the line task they run (a body is one object or an array).
    static let tasks: [(path: String, task: LineTask)] = [
        ("/v1/compare", .compare(mode: .both)),
        ("/v1/rank", .rank(strategy: .fullMatrix)),
        ("/v1/best-of-n", .select(strategy: .full, worst: false, returnAll: false)),
        ("/v1/compare-conversations", .compareConversations(mode: .both)),
    ]

    public static func router(ranker: PairRanker, configuration: ServerConfiguration) -> Router<BasicRequestContext> {
        let router = Router()
        let gate = AdmissionGate(workers: configuration.workers, queueLimit: configuration.queueLimit)
        let metrics = ServerMetrics()
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.get("/health") { _, _ in json(.ok, #"{"status":"ok"}"#) }
        router.get("/openapi.json") { _, _ in json(.ok, openAPIDocument) }
        router.get("/metrics") { _, _ -> Response in
            let (running, waiting) = await gate.load
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(running: running, waiting: waiting))))
        }
        router.get("/info") { request, _ in
            if let refused = authorize(request, configuration) { return refused }
            return json(.ok, JSONValue.object([
                ("model", .string(configuration.modelName)),
                ("weights", .string(ranker.model.file.metadata.string("general.weights") ?? "unknown")),
                ("source_max_length", .number(ranker.defaults.sourceMaxLength)),
                ("candidate_max_length", .number(ranker.defaults.candidateMaxLength)),
                ("max_body_bytes", .number(configuration.maxBodyBytes)),
                ("max_items_per_request", .number(configuration.maxItemsPerRequest)),
                ("workers", .number(configuration.workers)),
                ("queue_limit", .number(configuration.queueLimit)),
            ]).serialized)
        }
        for (path, task) in tasks {
            let processor = LineProcessor(task: task, maxLineBytes: configuration.maxBodyBytes)
            router.post(RouterPath(path)) { request, _ -> Response in
                if let refused = authorize(request, configuration) { return refused }
                let items: [JSONValue]
                let isArray: Bool
                switch try await readItems(request, configuration) {
                case .failure(let response): return response
                case .success(let parsed): (items, isArray) = parsed
                }
                return try await gate.run {
                    var outputs: [String] = []
                    for (index, item) in items.enumerated() {
                        switch processor.process(Array(item.serialized.utf8), number: index + 1, ranker: ranker) {
                        case .output(let text): outputs.append(text)
                        case .blank: outputs.append("null")
                        case .failure(let failure):
                            let position = isArray ? "item \(index): " : ""
                            return error(.unprocessableContent, position + failure.message, type: "Validation")
                        }
                    }
                    return json(.ok, isArray ? "[" + outputs.joined(separator: ",") + "]" : outputs[0])
                } ?? overloaded()
            }
        }
        router.post("/rerank") { request, _ -> Response in
            if let refused = authorize(request, configuration) { return refused }
            return try await rerank(request, ranker: ranker, configuration: configuration, gate: gate)
        }
        addCompatibleRoutes(router, ranker: ranker, configuration: configuration, gate: gate)
        return router
    }

    /// A ready-to-run application (`try await application(...).runService()` serves until
    /// SIGINT/SIGTERM, finishing requests in flight).
    public static func application(ranker: PairRanker, configuration: ServerConfiguration) -> some ApplicationProtocol {
        Application(router: router(ranker: ranker, configuration: configuration),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pairrm"))
    }

    // MARK: - TEI /rerank

    /// TEI's `POST /rerank {query, texts, raw_scores?, return_text?, truncate?}` → `[{index, score, text?}]`
    /// sorted by score. PairRM is pairwise, so the texts are ranked against each other as
    /// LLM-Blender's `rank` does (max_logits: each text's mean logit margin over all others);
    /// `raw_scores: false` (TEI's default) maps that margin through a logistic, so scores lie in
    /// (0, 1) with 0.5 = as good as the average opponent; `raw_scores: true` returns the margin.
    static func rerank(_ request: Request, ranker: PairRanker, configuration: ServerConfiguration, gate: AdmissionGate) async throws -> Response {
        let body: JSONValue
        switch try await readItems(request, configuration, allowArray: false) {
        case .failure(let response): return response
        case .success(let parsed): body = parsed.items[0]
        }
        guard case .string(let query)? = body["query"] else { return error(.unprocessableContent, "field \"query\" must be a string", type: "Validation") }
        guard case .array(let values)? = body["texts"], !values.isEmpty else {
            return error(.unprocessableContent, "field \"texts\" must be a non-empty array of strings", type: "Validation")
        }
        var texts: [String] = []
        for (index, value) in values.enumerated() {
            guard case .string(let text) = value else { return error(.unprocessableContent, "texts[\(index)] is not a string", type: "Validation") }
            texts.append(text)
        }
        guard texts.count <= configuration.maxItemsPerRequest else {
            return error(.contentTooLarge, "\(texts.count) texts; this server takes at most \(configuration.maxItemsPerRequest)", type: "Validation")
        }
        let raw = body["raw_scores"] == .bool(true)
        let returnText = body["return_text"] == .bool(true)
        var options = ranker.defaults
        options.rejectTruncation = body["truncate"] == .bool(false)
        return try await gate.run { [texts, options] in
            let ranking: Ranking
            do {
                ranking = try ranker.rank(query, texts, options: options)
            } catch let failure as PairRMError {
                return error(failure.kind == .inputTooLong ? .contentTooLarge : .unprocessableContent, failure.description, type: "Validation")
            }
            let scores = ranking.scores ?? Array(repeating: 0, count: texts.count)
            let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            let results = order.map { index -> JSONValue in
                let score = raw ? scores[index] : logistic(scores[index])
                var members: [(String, JSONValue)] = [("index", .number(index)), ("score", .number(score))]
                if returnText { members.append(("text", .string(texts[index]))) }
                return .object(members)
            }
            return json(.ok, JSONValue.array(results).serialized)
        } ?? overloaded()
    }

    // MARK: - Requests and responses

    enum Parsed { case success((items: [JSONValue], isArray: Bool)), failure(Response) }

    /// The body as one object or an array of objects, within the size and item limits.
    static func readItems(_ request: Request, _ configuration: ServerConfiguration, allowArray: Bool = true) async throws -> Parsed {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        } catch {
            return .failure(self.error(.contentTooLarge, "the body is over \(configuration.maxBodyBytes) bytes", type: "Validation"))
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(Array(buffer.readableBytesView))
        } catch {
            return .failure(self.error(.badRequest, "the body is not valid JSON: \(error)", type: "Validation"))
        }
        switch value {
        case .object: return .success(([value], false))
        case .array(let items) where allowArray:
            guard !items.isEmpty else { return .failure(self.error(.unprocessableContent, "the array is empty", type: "Validation")) }
            guard items.count <= configuration.maxItemsPerRequest else {
                return .failure(self.error(.contentTooLarge, "\(items.count) items; this server takes at most \(configuration.maxItemsPerRequest)", type: "Validation"))
            }
            return .success((items, true))
        default:
            return .failure(self.error(.unprocessableContent, allowArray ? "the body must be a JSON object or an array of objects" : "the body must be a JSON object",
                                       type: "Validation"))
        }
    }

    static func authorize(_ request: Request, _ configuration: ServerConfiguration) -> Response? {
        guard let key = configuration.apiKey else { return nil }
        guard request.headers[.authorization] == "Bearer \(key)" else {
            return error(.unauthorized, "missing or wrong bearer token", type: "Unauthorized")
        }
        return nil
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// TEI's error shape: `{"error": "...", "error_type": "..."}`.
    static func error(_ status: HTTPResponse.Status, _ message: String, type: String) -> Response {
        json(status, JSONValue.object([("error", .string(message)), ("error_type", .string(type))]).serialized)
    }

    static func overloaded() -> Response {
        var response = error(.tooManyRequests, "the scoring queue is full; retry shortly", type: "Overloaded")
        response.headers[.retryAfter] = "1"
        return response
    }
}

extension JSONValue {
    static func number(_ value: Int) -> JSONValue { .number(String(value)) }
}

/// At most `workers` scoring jobs at once and `queueLimit` waiting; the rest are turned away at
/// once (nil) so memory stays bounded under load. Jobs run on a detached task, off the event loop.
actor AdmissionGate {
    let workers: Int
    let queueLimit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(workers: Int, queueLimit: Int) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
    }

    nonisolated func run<T: Sendable>(_ job: @escaping @Sendable () throws -> T) async throws -> T? {
        guard await enter() else { return nil }
        defer { Task { await self.leave() } }
        return try await Task.detached { try job() }.value
    }

    /// Jobs running and waiting, for /metrics.
    var load: (running: Int, waiting: Int) { (running, waiting.count) }

    private func enter() async -> Bool {
        if running < workers {
            running += 1
            return true
        }
        guard waiting.count < queueLimit else { return false }
        await withCheckedContinuation { waiting.append($0) }
        return true
    }

    private func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()   // the slot passes straight to the next job
        }
    }
}
