import Foundation
import Hummingbird
import Logging
import NIOCore
import PairRM
import PairRMFormat
import PairRMProtocol

/// Limits and place of the scoring server.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body; larger ones get 413.
    public var maxBodyBytes = 8 << 20
    /// Items (objects of an array, texts of a rerank) per request; more get 413.
    public var maxItemsPerRequest = 1024
    /// Longest string (in Unicode code points) anywhere in a request; longer ones get 413.
    public var maxCharsPerText = 200_000
    /// Requests scored at once; each runs off the event loop.
    public var workers = 1
    /// Requests waiting for a worker beyond which new ones get 429 with Retry-After.
    public var queueLimit = 64
    /// Seconds a request may wait and run before it is answered 503 (its work stops at the next
    /// forward pass).
    public var requestTimeout = 60.0
    /// Seconds the whole request body may take to arrive (slow senders get 408).
    public var bodyTimeout = 30.0
    /// Seconds a connection may sit idle (or send a request head this slowly) before it is closed.
    public var idleTimeout = 60.0
    /// Seconds /health answers 503 "draining" after SIGTERM before the listener closes.
    public var drainSeconds = 0.0
    /// When set, every request but /health needs `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// What /info and the compatible endpoints report as the model.
    public var modelName = "PairRM"
    /// What /info reports as the conversion recipe, when the model was converted on load.
    public var recipe: String?
    public var logLevel = Logger.Level.info

    public init() {}
}

/// `pairrm serve`: the CLI's JSON request/response objects over HTTP (one shared protocol module,
/// PairRMProtocol), the request shapes of TEI, Jina/Cohere, vLLM and OpenRLHF, health, info,
/// metrics and the OpenAPI document, on Hummingbird. Scoring runs off the event loop behind a
/// bounded queue: a full queue answers 429, never unbounded memory.
public enum ScoringServer {
    /// The native endpoints: path → the line task they run (a body is one object or an array).
    static let tasks: [(path: String, task: LineTask)] = [
        ("/v1/compare", .compare(mode: .both)),
        ("/v1/rank", .rank(strategy: .fullMatrix)),
        ("/v1/best-of-n", .select(strategy: .full, worst: false, returnAll: false)),
        ("/v1/compare-conversations", .compareConversations(mode: .both)),
    ]

    /// What every route needs: the model (once loaded), the limits, the queue and the counters.
    struct Shared: Sendable {
        let state: ServerState
        let configuration: ServerConfiguration
        let gate: AdmissionGate
        let metrics: ServerMetrics
    }

    public static func router(state: ServerState, configuration: ServerConfiguration) -> Router<ScoringRequestContext> {
        let router = Router(context: ScoringRequestContext.self)
        let shared = Shared(state: state, configuration: configuration,
                            gate: AdmissionGate(workers: configuration.workers, queueLimit: configuration.queueLimit),
                            metrics: ServerMetrics())
        let knownPaths = Set(["/health", "/openapi.json", "/metrics", "/info", "/rerank", "/v1/rerank", "/score", "/get_reward"] + tasks.map(\.path))
        router.middlewares.add(MetricsMiddleware(metrics: shared.metrics, knownPaths: knownPaths))
        router.get("/health") { _, _ in
            let phase = state.phase
            return json(phase == .ready ? .ok : .serviceUnavailable, JSONValue.object([("status", .string(phase == .ready ? "ok" : phase.rawValue))]).serialized)
        }
        router.get("/openapi.json") { _, _ in json(.ok, openAPIDocument) }
        router.get("/metrics") { _, _ -> Response in
            let (running, waiting) = await shared.gate.load
            let usage = state.ranker?.usage
            let text = shared.metrics.exposition(running: running, waiting: waiting,
                                                 forwardPasses: usage?.forwardPasses ?? 0, tokens: usage?.tokens ?? 0)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/info") { request, _ in
            if let refused = authorize(request, configuration) { return refused }
            return json(.ok, info(shared).serialized)
        }
        for (path, task) in tasks {
            let processor = LineProcessor(task: task)
            router.post(RouterPath(path)) { request, context -> Response in
                let items: [JSONValue], isArray: Bool
                switch try await readBody(request, context, shared) {
                case .failure(let refusal): return refusal.response
                case .success(let value):
                    switch value {
                    case .object: (items, isArray) = ([value], false)
                    case .array(let values):
                        if let refusal = itemCount(values.count, "the array", configuration) { return refusal.response }
                        (items, isArray) = (values, true)
                    default: return error(.unprocessableContent, "the body must be a JSON object or an array of objects", type: "Validation")
                    }
                }
                return try await score(request, context, shared) { ranker, options in
                    var outputs: [String] = []
                    for (index, item) in items.enumerated() {
                        let position = isArray ? "item \(index): " : ""
                        let parsed: (id: JSONValue?, request: LineProcessor.Request)
                        do {
                            parsed = try processor.request(from: item, number: index + 1)
                        } catch let failure as LineFailure {
                            throw Refusal(response: self.error(.unprocessableContent, position + failure.message, type: "Validation"))
                        }
                        do {
                            outputs.append(try processor.run(parsed.request, id: parsed.id, ranker: ranker, options: options))
                        } catch let failure as PairRMError {
                            throw Refusal(response: refusal(failure, position: position))
                        }
                    }
                    return json(.ok, isArray ? "[" + outputs.joined(separator: ",") + "]" : outputs[0])
                }
            }
        }
        addCompatibleRoutes(router, shared)
        return router
    }

    /// A ready-to-run application: it listens at once, loads the model with `load` (while
    /// /health answers 503 "loading"), and on SIGINT/SIGTERM drains as `ModelLifecycleService`
    /// describes. `try await application(...).runService()` serves until then.
    public static func application(state: ServerState, configuration: ServerConfiguration, logger: Logger? = nil,
                                   load: @escaping @Sendable () throws -> PairRanker) -> some ApplicationProtocol {
        var logger = logger ?? Logger(label: "pairrm.serve")
        logger.logLevel = configuration.logLevel
        let lifecycle = ModelLifecycleService(state: state, drainSeconds: configuration.drainSeconds, logger: logger, load: load)
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout * 1e9))
        return Application(router: router(state: state, configuration: configuration),
                           server: .http1(configuration: .init(additionalChannelHandlers: [ClientCloseHandler()], idleTimeout: idle)),
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pairrm"),
                           services: [lifecycle],
                           onServerRunning: { channel in
                               // One line scripts can wait for; with --port 0 it names the port chosen.
                               let port = channel.localAddress?.port ?? configuration.port
                               FileHandle.standardError.write(Data("pairrm serve: listening on http://\(configuration.host):\(port)\n".utf8))
                           },
                           logger: logger)
    }

    /// The application for a model already loaded.
    public static func application(ranker: PairRanker, configuration: ServerConfiguration, logger: Logger? = nil) -> some ApplicationProtocol {
        application(state: ServerState(ranker: ranker), configuration: configuration, logger: logger) { ranker }
    }

    static func info(_ shared: Shared) -> JSONValue {
        let configuration = shared.configuration
        var members: [(String, JSONValue)] = [
            ("model", .string(configuration.modelName)),
            ("status", .string(shared.state.phase.rawValue)),
            ("version", .string(PairRMVersion.string)),
            ("kernel_variant", .string(PairRanker.kernelVariant)),
        ]
        if let recipe = configuration.recipe { members.append(("recipe", .string(recipe))) }
        if let ranker = shared.state.ranker {
            members += [
                ("weights", .string(ranker.model.file.metadata.string("general.weights") ?? "unknown")),
                ("source_max_length", .number(ranker.defaults.sourceMaxLength)),
                ("candidate_max_length", .number(ranker.defaults.candidateMaxLength)),
                ("threads_per_worker", .number(ranker.defaults.threads)),
            ]
        }
        members += [
            ("max_body_bytes", .number(configuration.maxBodyBytes)),
            ("max_items_per_request", .number(configuration.maxItemsPerRequest)),
            ("max_chars_per_text", .number(configuration.maxCharsPerText)),
            ("workers", .number(configuration.workers)),
            ("queue_limit", .number(configuration.queueLimit)),
            ("request_timeout_seconds", .number(String(configuration.requestTimeout))),
        ]
        return .object(members)
    }

    // MARK: - Scoring

    /// Runs `work` on a worker once the model is loaded and a slot is free, with the request's
    /// options (`?truncate=false` turns truncation into 413), its deadline and its connection
    /// watched: the work stops at the next forward pass once the client is gone or the
    /// deadline passed. Every outcome becomes a response.
    static func score(_ request: Request, _ context: ScoringRequestContext, _ shared: Shared, rejectTruncation: Bool? = nil,
                      _ work: @escaping @Sendable (PairRanker, RankerOptions) throws -> Response) async throws -> Response {
        guard let ranker = shared.state.ranker else {
            var response = error(.serviceUnavailable, "the model is still loading; retry shortly (GET /health answers 200 once it is ready)", type: "Unhealthy")
            response.headers[.retryAfter] = "5"
            return response
        }
        var options = ranker.defaults
        if let rejectTruncation {
            options.rejectTruncation = rejectTruncation
        } else if let truncate = request.uri.queryParameters.get("truncate") {
            guard let value = Bool(truncate) else {
                return error(.badRequest, "query parameter truncate must be true or false (got \(truncate))", type: "Validation")
            }
            options.rejectTruncation = !value
        }
        let token = CancellationToken()
        options.cancellation = token
        let jobOptions = options
        let control = JobControl(deadline: .now + .nanoseconds(Int64(shared.configuration.requestTimeout * 1e9)), clientGone: context.clientGone)
        // Watches the connection and the clock while the job waits or runs; a cancelled token
        // stops the ranker before its next forward pass.
        let watcher = Task {
            while !Task.isCancelled {
                if (try? control.check()) == nil {
                    token.cancel()
                    return
                }
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
        }
        defer { watcher.cancel() }
        let outcome = try await shared.gate.run(control) { control -> Response in
            do {
                return try work(ranker, jobOptions)
            } catch let refusal as Refusal {
                return refusal.response
            } catch let failure as PairRMError {
                return refusal(failure, position: "")
            } catch is CancellationError {
                throw control.clientGone() ? JobControl.Stop.clientGone : JobControl.Stop.timedOut
            } catch {
                // The tokenizer's refusals (e.g. a space-free run over 1 MiB) are about the input.
                return self.error(.unprocessableContent, "\(error)", type: "Validation")
            }
        }
        switch outcome {
        case .done(let response): return response
        case .overloaded:
            var response = error(.tooManyRequests, "the scoring queue is full (\(shared.configuration.queueLimit) waiting); retry shortly", type: "Overloaded")
            response.headers[.retryAfter] = "1"
            return response
        case .timedOut:
            var response = error(.serviceUnavailable, "the request was not answered within \(shared.configuration.requestTimeout) s (server busy or request too large); retry, or split it", type: "Timeout")
            response.headers[.retryAfter] = "1"
            return response
        case .clientGone:
            // Nobody reads this; it is what the access log and the metrics record (nginx's 499).
            return error(HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "the client closed the connection; its work was dropped", type: "ClientClosed")
        }
    }

    /// The response for a library error: inputs over their token budget (with truncation
    /// refused) are 413, other input errors 422, model faults 500.
    static func refusal(_ failure: PairRMError, position: String) -> Response {
        switch failure.kind {
        case .inputTooLong: return error(.contentTooLarge, position + failure.description, type: "Validation")
        case .invalidArgument, .invalidConversation: return error(.unprocessableContent, position + failure.description, type: "Validation")
        case .unsupportedModel, .nonFiniteResult: return error(.internalServerError, position + failure.description, type: "Model")
        }
    }

    // MARK: - Requests and responses

    /// A refusal already rendered as its response.
    struct Refusal: Error { var response: Response }

    /// The body, authorized, within the size, time, depth and text-length limits, parsed.
    static func readBody(_ request: Request, _ context: ScoringRequestContext, _ shared: Shared) async throws -> Result<JSONValue, Refusal> {
        let configuration = shared.configuration
        if let refused = authorize(request, configuration) { return .failure(Refusal(response: refused)) }
        let buffer: ByteBuffer
        do {
            buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await request.body.collect(upTo: configuration.maxBodyBytes) }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(configuration.bodyTimeout * 1e9))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else { throw BodyTimeout() }
                return body
            }
        } catch is BodyTimeout {
            var response = error(.requestTimeout, "the body did not arrive within \(configuration.bodyTimeout) s", type: "Validation")
            response.headers[.connection] = "close"
            return .failure(Refusal(response: response))
        } catch {
            return .failure(Refusal(response: self.error(.contentTooLarge, "the body is over \(configuration.maxBodyBytes) bytes (the server's --max-body-bytes)", type: "Validation")))
        }
        let bytes = Array(buffer.readableBytesView)
        // The line protocol reads invalid UTF-8 as U+FFFD (as Python's tokenizers would see it);
        // an HTTP client sending it has a bug worth hearing about, so the server refuses it.
        if let offset = firstInvalidUTF8(bytes) {
            return .failure(Refusal(response: self.error(.badRequest, "the body is not valid UTF-8 (byte \(offset)); send JSON text in UTF-8", type: "Validation")))
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .failure(Refusal(response: self.error(.badRequest, "the body is not valid JSON: \(error)", type: "Validation")))
        }
        // The top-level array is counted by the endpoints (its own message); lists inside it here.
        let parts: [(path: String, value: JSONValue)] = if case .array(let items) = value {
            items.enumerated().map { ("body[\($0.offset)]", $0.element) }
        } else {
            [("body", value)]
        }
        for (path, part) in parts {
            if let problem = part.limitViolation(maxChars: configuration.maxCharsPerText, maxItems: configuration.maxItemsPerRequest, path: path) {
                return .failure(Refusal(response: self.error(.contentTooLarge, problem, type: "Validation")))
            }
        }
        return .success(value)
    }

    private struct BodyTimeout: Error {}

    /// The offset of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        if String(validating: bytes, as: UTF8.self) != nil { return nil }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    /// The 422 for an empty list, the 413 for one over the item limit, nil when within both.
    static func itemCount(_ count: Int, _ what: String, _ configuration: ServerConfiguration) -> Refusal? {
        if count == 0 { return Refusal(response: error(.unprocessableContent, "\(what) is empty", type: "Validation")) }
        if count > configuration.maxItemsPerRequest {
            return Refusal(response: error(.contentTooLarge, "\(what) has \(count) items; this server takes at most \(configuration.maxItemsPerRequest) (--max-items)", type: "Validation"))
        }
        return nil
    }

    static func authorize(_ request: Request, _ configuration: ServerConfiguration) -> Response? {
        guard let key = configuration.apiKey else { return nil }
        guard let header = request.headers[.authorization], constantTimeEqual(Array(header.utf8), Array("Bearer \(key)".utf8)) else {
            var response = error(.unauthorized, "missing or wrong bearer token (send Authorization: Bearer KEY)", type: "Unauthorized")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return nil
    }

    /// Compares without returning early, so the time taken does not reveal how much of a
    /// guessed key was right (the length is not secret).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The header naming an error's kind, for the access log and the metrics.
    static let errorTypeHeader = HTTPFields.Element.Name("X-Error-Type")!

    /// TEI's error shape: `{"error": "...", "error_type": "..."}`.
    static func error(_ status: HTTPResponse.Status, _ message: String, type: String) -> Response {
        var response = json(status, JSONValue.object([("error", .string(message)), ("error_type", .string(type))]).serialized)
        response.headers[errorTypeHeader] = type
        return response
    }
}

extension JSONValue {
    static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    /// What breaks the limits first, with its path (`body.candidates[3]`): a string longer than
    /// `maxChars` code points, or a list longer than `maxItems` (a rank request's candidates,
    /// for instance: n candidates cost n(n−1) forward passes).
    func limitViolation(maxChars: Int, maxItems: Int, path: String) -> String? {
        switch self {
        case .string(let text):
            // Counting stops just past the limit, so a huge string costs no more than a short one.
            var count = 0
            for _ in text.unicodeScalars {
                count += 1
                if count > maxChars {
                    return "\(path) has \(text.unicodeScalars.count) characters; this server takes at most \(maxChars) per text (--max-chars)"
                }
            }
            return nil
        case .array(let values):
            if values.count > maxItems {
                return "\(path) has \(values.count) items; this server takes at most \(maxItems) per list (--max-items)"
            }
            for (index, value) in values.enumerated() {
                if let found = value.limitViolation(maxChars: maxChars, maxItems: maxItems, path: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let members):
            for (key, value) in members {
                if let found = value.limitViolation(maxChars: maxChars, maxItems: maxItems, path: "\(path).\(key)") { return found }
            }
            return nil
        default:
            return nil
        }
    }
}
