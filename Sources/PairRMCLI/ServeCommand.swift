import ArgumentParser
import Dispatch
import Foundation
import Logging
import PairRMServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve PairRM over HTTP: the CLI's JSON objects, the TEI, Jina/Cohere, vLLM and OpenRLHF shapes, health and metrics.",
        discussion: """
        Endpoints (bodies are JSON; errors are {"error": "...", "error_type": "..."}; the full
        contract is GET /openapi.json, the same as Formats/openapi.json):
          POST /v1/compare, /v1/rank, /v1/best-of-n, /v1/compare-conversations
               one request object exactly as a line of the matching command (or an array
               of them) → the same result object (or an array, in order)
          POST /rerank      TEI {"query", "texts", "raw_scores"?, "return_text"?, "truncate"?}
          POST /v1/rerank   Jina/Cohere/llama-server {"query", "documents", "top_n"?, "return_documents"?}
          POST /score       vLLM {"text_1": query, "text_2": text or [texts]}
          POST /get_reward  OpenRLHF {"query": [prompt+response], "prompts"?, "labels"?}
          GET  /health (200, or 503 while loading or draining), /info, /metrics (Prometheus), /openapi.json
        PairRM is pairwise: a list of texts is ranked against each other (LLM-Blender's rank,
        each text's mean logit margin over the others); relevance scores are the logistic of
        that margin (0.5 = as good as the average other text). /get_reward with labels is the
        order-averaged logit of each response against its label. Texts over the model's token
        budget are truncated as LLM-Blender does; ?truncate=false (TEI: "truncate": false)
        answers 413 instead.

        The server listens at once and loads the model in the background (/health: 503
        "loading", then 200). Scoring runs off the event loop on --workers jobs at once, each
        with --threads; up to --queue-limit requests wait, more get 429 with Retry-After. A
        request not answered within --request-timeout gets 503 and its work stops at the next
        forward pass; a client that disconnects has its queued or running work dropped.
        SIGINT/SIGTERM: /health answers 503 "draining" for --drain-seconds, then the listener
        closes and requests in flight finish. With --api-key (or $PAIRRM_API_KEY) every request
        but /health needs "Authorization: Bearer KEY". One access-log line per request on
        stderr (--log-level).

        Example:
          pairrm serve --model llm-blender/PairRM --port 8080 &
          curl -s localhost:8080/v1/compare -d '{"prompt":"2+2?","a":"4","b":"5"}'
        """
    )

    @OptionGroup var ranker: RankerArguments

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the 'listening on' line on stderr names it).")
    var port = 8080

    @Option(help: "Requests scored at once (each uses --threads).")
    var workers = 1

    @Option(help: "Requests that may wait for a worker before new ones get 429.")
    var queueLimit = 64

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBodyBytes = 8 << 20

    @Option(help: "Largest array or list of texts per request (413 beyond).")
    var maxItems = 1024

    @Option(help: "Longest string anywhere in a request, in characters (413 beyond).")
    var maxChars = 200_000

    @Option(help: ArgumentHelp("Seconds a request may wait and run before it gets 503.", valueName: "seconds"))
    var requestTimeout = 60.0

    @Option(help: ArgumentHelp("Seconds a request body may take to arrive (408 beyond; stops slow senders).", valueName: "seconds"))
    var bodyTimeout = 30.0

    @Option(help: ArgumentHelp("Seconds an idle connection (or a request head sent that slowly) is kept open.", valueName: "seconds"))
    var idleTimeout = 60.0

    @Option(help: ArgumentHelp("Seconds /health answers 503 after SIGTERM before the listener closes.", valueName: "seconds"))
    var drainSeconds = 0.0

    @Option(help: ArgumentHelp("Require this bearer token (default: $PAIRRM_API_KEY; none when unset).", valueName: "KEY"))
    var apiKey: String?

    @Option(help: "Access and lifecycle log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535 (got \(port))") }
        guard (1...1024).contains(workers) else { throw ValidationError("--workers must be 1…1024 (got \(workers))") }
        guard (0...1_000_000).contains(queueLimit) else { throw ValidationError("--queue-limit must be 0…1000000 (got \(queueLimit))") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be ≥ 1024 (got \(maxBodyBytes))") }
        guard (1...65536).contains(maxItems) else { throw ValidationError("--max-items must be 1…65536 (got \(maxItems))") }
        guard maxChars >= 1 else { throw ValidationError("--max-chars must be ≥ 1 (got \(maxChars))") }
        for (name, value) in [("--request-timeout", requestTimeout), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout)] {
            guard value.isFinite, value > 0, value <= 86_400 else { throw ValidationError("\(name) must be a number of seconds in (0, 86400] (got \(value))") }
        }
        guard drainSeconds.isFinite, (0...3600).contains(drainSeconds) else { throw ValidationError("--drain-seconds must be 0…3600 (got \(drainSeconds))") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")) (got \(logLevel))")
        }
    }

    func run() throws {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.workers = workers
        configuration.queueLimit = queueLimit
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxItemsPerRequest = maxItems
        configuration.maxCharsPerText = maxChars
        configuration.requestTimeout = requestTimeout
        configuration.bodyTimeout = bodyTimeout
        configuration.idleTimeout = idleTimeout
        configuration.drainSeconds = drainSeconds
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["PAIRRM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.modelName = ranker.model ?? ProcessInfo.processInfo.environment["PAIRRM_MODEL"] ?? "llm-blender/PairRM"
        configuration.recipe = ranker.recipe
        configuration.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        printError("serving \(configuration.modelName): loading the model; GET /health answers 200 once it is ready (Ctrl-C stops)")
        let arguments = ranker
        let application = ScoringServer.application(state: ServerState(), configuration: configuration) {
            try arguments.loadRanker()
        }
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do { try await application.runService() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        switch failure.error {
        case nil: return
        case let error as ValidationError:
            printError("error: \(error.message)")
            throw ExitCode(64)
        case let error as ExitCode:
            throw error
        case let error?:
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

private final class FailureBox: @unchecked Sendable { var error: Error? }
