import ArgumentParser
import Dispatch
import Foundation
import PairRMServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve PairRM over HTTP: the CLI's JSON objects at /v1/*, TEI's /rerank, /health and /info.",
        discussion: """
        Endpoints (bodies are JSON; errors are {"error": "...", "error_type": "..."}):
          POST /v1/compare, /v1/rank, /v1/best-of-n, /v1/compare-conversations
               one request object exactly as a line of the matching command (or an
               array of them) → the same result object (or an array, in order)
          POST /rerank   TEI: {"query", "texts", "raw_scores"?, "return_text"?, "truncate"?}
               → [{"index", "score", "text"?}] sorted by score. PairRM is pairwise: the texts
               are ranked against each other (LLM-Blender's rank, max_logits); scores are
               the logistic of that margin unless raw_scores is true.
          GET  /health   200 {"status":"ok"};  GET /info  the model and the limits

        Scoring runs off the event loop on --workers jobs at once; up to --queue-limit
        requests wait, more get 429 with Retry-After. Bodies over --max-body-bytes get
        413, as do arrays or texts over --max-items. SIGINT/SIGTERM stop accepting and
        finish the requests in flight. With --api-key (or $PAIRRM_API_KEY) every request
        but /health needs "Authorization: Bearer KEY".

        Example:
          pairrm serve --model llm-blender/PairRM --port 8080 &
          curl -s localhost:8080/v1/compare -d '{"prompt":"2+2?","a":"4","b":"5"}'
        """
    )

    @OptionGroup var ranker: RankerArguments

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Requests scored at once (each uses --threads).")
    var workers = 1

    @Option(help: "Requests that may wait for a worker before new ones get 429.")
    var queueLimit = 64

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBodyBytes = 8 << 20

    @Option(help: "Largest array or list of texts per request (413 beyond).")
    var maxItems = 1024

    @Option(help: ArgumentHelp("Require this bearer token (default: $PAIRRM_API_KEY; none when unset).", valueName: "KEY"))
    var apiKey: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1…65535 (got \(port))") }
        guard (1...1024).contains(workers) else { throw ValidationError("--workers must be 1…1024 (got \(workers))") }
        guard queueLimit >= 0 else { throw ValidationError("--queue-limit must be ≥ 0 (got \(queueLimit))") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be ≥ 1024 (got \(maxBodyBytes))") }
        guard (1...65536).contains(maxItems) else { throw ValidationError("--max-items must be 1…65536 (got \(maxItems))") }
    }

    func run() throws {
        let pairRanker = try loadRankerOrExit(ranker)
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.workers = workers
        configuration.queueLimit = queueLimit
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxItemsPerRequest = maxItems
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["PAIRRM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.modelName = ranker.model ?? ProcessInfo.processInfo.environment["PAIRRM_MODEL"] ?? "llm-blender/PairRM"
        printError("serving \(configuration.modelName) on http://\(host):\(port) (Ctrl-C stops)")
        let application = ScoringServer.application(ranker: pairRanker, configuration: configuration)
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do { try await application.runService() } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

private final class FailureBox: @unchecked Sendable { var error: Error? }
