import Foundation
import Hummingbird

/// Prometheus metrics in the text exposition format, without a metrics dependency: requests by
/// endpoint and status, request latency histograms by endpoint, and the scoring queue (jobs
/// running and waiting). Served at GET /metrics.
final class ServerMetrics: @unchecked Sendable {
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    private let lock = NSLock()
    private var requests: [String: [Int: Int]] = [:]
    private var latency: [String: (counts: [Int], sum: Double, count: Int)] = [:]

    func record(endpoint: String, status: Int, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        requests[endpoint, default: [:]][status, default: 0] += 1
        var entry = latency[endpoint] ?? (Array(repeating: 0, count: Self.buckets.count), 0, 0)
        for (index, bound) in Self.buckets.enumerated() where seconds <= bound { entry.counts[index] += 1 }
        entry.sum += seconds
        entry.count += 1
        latency[endpoint] = entry
    }

    func exposition(running: Int, waiting: Int) -> String {
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
        text += "# HELP pairrm_scoring_running Scoring jobs running.\n# TYPE pairrm_scoring_running gauge\npairrm_scoring_running \(running)\n"
        text += "# HELP pairrm_scoring_waiting Scoring jobs waiting for a worker.\n# TYPE pairrm_scoring_waiting gauge\npairrm_scoring_waiting \(waiting)\n"
        return text
    }
}

/// Times every request and counts it by endpoint (the route's path) and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let endpoint = request.uri.path
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        do {
            let response = try await next(request, context)
            metrics.record(endpoint: endpoint, status: Int(response.status.code), seconds: seconds())
            return response
        } catch let error as HTTPResponseError {
            metrics.record(endpoint: endpoint, status: Int(error.status.code), seconds: seconds())
            throw error
        } catch {
            metrics.record(endpoint: endpoint, status: 500, seconds: seconds())
            throw error
        }
    }
}
