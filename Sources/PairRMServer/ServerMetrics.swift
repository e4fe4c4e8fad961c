import Foundation
import Hummingbird
import Logging

/// Prometheus metrics in the text exposition format, without a metrics dependency: requests by
/// endpoint and status, errors by kind, request latency histograms by endpoint, the scoring
/// queue (jobs running and waiting), forward passes and tokens. Served at GET /metrics.
final class ServerMetrics: @unchecked Sendable {
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    private let lock = NSLock()
    private var requests: [String: [Int: Int]] = [:]
    private var latency: [String: (counts: [Int], sum: Double, count: Int)] = [:]
    private var errors: [String: Int] = [:]

    func record(endpoint: String, status: Int, errorType: String?, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        requests[endpoint, default: [:]][status, default: 0] += 1
        if let errorType { errors[errorType, default: 0] += 1 }
        var entry = latency[endpoint] ?? (Array(repeating: 0, count: Self.buckets.count), 0, 0)
        for (index, bound) in Self.buckets.enumerated() where seconds <= bound { entry.counts[index] += 1 }
        entry.sum += seconds
        entry.count += 1
        latency[endpoint] = entry
    }

    func exposition(running: Int, waiting: Int, forwardPasses: Int, tokens: Int) -> String {
        lock.lock()
        defer { lock.unlock() }
        var text = "# HELP pairrm_requests_total HTTP requests by endpoint and status.\n# TYPE pairrm_requests_total counter\n"
        for endpoint in requests.keys.sorted() {
            for status in requests[endpoint]!.keys.sorted() {
                text += "pairrm_requests_total{endpoint=\"\(endpoint)\",status=\"\(status)\"} \(requests[endpoint]![status]!)\n"
            }
        }
        text += "# HELP pairrm_request_duration_seconds Request latency by endpoint.\n# TYPE pairrm_request_duration_seconds histogram\n"
        for endpoint in latency.keys.sorted() {
            let entry = latency[endpoint]!
            for (index, bound) in Self.buckets.enumerated() {
                text += "pairrm_request_duration_seconds_bucket{endpoint=\"\(endpoint)\",le=\"\(bound)\"} \(entry.counts[index])\n"
            }
            text += "pairrm_request_duration_seconds_bucket{endpoint=\"\(endpoint)\",le=\"+Inf\"} \(entry.count)\n"
            text += "pairrm_request_duration_seconds_sum{endpoint=\"\(endpoint)\"} \(entry.sum)\n"
            text += "pairrm_request_duration_seconds_count{endpoint=\"\(endpoint)\"} \(entry.count)\n"
        }
        text += "# HELP pairrm_errors_total Error responses by kind (the error_type of the body).\n# TYPE pairrm_errors_total counter\n"
        for kind in errors.keys.sorted() { text += "pairrm_errors_total{error_type=\"\(kind)\"} \(errors[kind]!)\n" }
        text += "# HELP pairrm_forward_passes_total Forward passes of the model.\n# TYPE pairrm_forward_passes_total counter\npairrm_forward_passes_total \(forwardPasses)\n"
        text += "# HELP pairrm_tokens_total Tokens through the model (sum of forward-pass lengths).\n# TYPE pairrm_tokens_total counter\npairrm_tokens_total \(tokens)\n"
        text += "# HELP pairrm_scoring_running Scoring jobs running.\n# TYPE pairrm_scoring_running gauge\npairrm_scoring_running \(running)\n"
        text += "# HELP pairrm_scoring_waiting Scoring jobs waiting for a worker.\n# TYPE pairrm_scoring_waiting gauge\npairrm_scoring_waiting \(waiting)\n"
        return text
    }
}

/// Times every request, counts it by endpoint (the route's path; unknown paths are counted as
/// "other" so a scanner cannot grow the metrics without bound), status and error kind, and writes
/// one structured access-log line per request (with Hummingbird's request id).
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ScoringRequestContext
    let metrics: ServerMetrics
    let knownPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let endpoint = knownPaths.contains(request.uri.path) ? request.uri.path : "other"
        func finish(_ status: Int, _ errorType: String?) {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            metrics.record(endpoint: endpoint, status: status, errorType: errorType, seconds: seconds)
            var metadata: Logger.Metadata = [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(status)",
                "seconds": "\(String(format: "%.4f", seconds))",
            ]
            if let errorType { metadata["error_type"] = "\(errorType)" }
            context.logger.log(level: status >= 500 && status != 503 ? .warning : .info, "request", metadata: metadata)
        }
        do {
            let response = try await next(request, context)
            finish(Int(response.status.code), response.headers[ScoringServer.errorTypeHeader])
            return response
        } catch let error as HTTPResponseError {
            finish(Int(error.status.code), error.status == .notFound ? "NotFound" : "HTTP")
            throw error
        } catch {
            finish(500, "Internal")
            throw error
        }
    }
}
