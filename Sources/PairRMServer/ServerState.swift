import Foundation
import Logging
import PairRM
import ServiceLifecycle

/// Where the server is in its life: it listens before the model is loaded (so orchestrators see
/// /health answer 503 "loading" rather than a refused connection), serves while ready, and keeps
/// serving while draining, with /health at 503 so load balancers stop sending new work.
public final class ServerState: @unchecked Sendable {
    public enum Phase: String, Sendable { case loading, ready, draining }

    private let lock = NSLock()
    private var currentPhase = Phase.loading
    private var loadedRanker: PairRanker?

    public init() {}

    /// A state that is ready with `ranker` from the start (tests, embedding).
    public convenience init(ranker: PairRanker) {
        self.init()
        becomeReady(ranker)
    }

    public var phase: Phase { lock.withLock { currentPhase } }

    /// The model once loaded (it stays available while draining, for requests in flight).
    public var ranker: PairRanker? { lock.withLock { loadedRanker } }

    public func becomeReady(_ ranker: PairRanker) {
        lock.withLock {
            loadedRanker = ranker
            if currentPhase == .loading { currentPhase = .ready }
        }
    }

    public func beginDraining() { lock.withLock { currentPhase = .draining } }
}

/// Loads the model after the server starts listening, then waits for SIGTERM/SIGINT: it is the
/// first service to hear of a graceful shutdown (the service group stops services in reverse
/// order and this one is listed after the application), so /health turns 503 and stays so for
/// `drainSeconds` while requests are still accepted; then the HTTP server stops accepting and
/// finishes the requests in flight.
public struct ModelLifecycleService: Service {
    let state: ServerState
    let drainSeconds: Double
    let logger: Logger
    let load: @Sendable () throws -> PairRanker

    public init(state: ServerState, drainSeconds: Double, logger: Logger, load: @escaping @Sendable () throws -> PairRanker) {
        self.state = state
        self.drainSeconds = drainSeconds
        self.logger = logger
        self.load = load
    }

    public func run() async throws {
        if state.ranker == nil {
            let started = Date()
            let ranker = try await Task.detached { try load() }.value
            state.becomeReady(ranker)
            logger.info("model loaded", metadata: ["seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        }
        do {
            try await gracefulShutdown()
        } catch is CancellationError {
            return
        }
        state.beginDraining()
        logger.info("draining: /health answers 503; finishing requests in flight", metadata: ["drain_seconds": "\(drainSeconds)"])
        if drainSeconds > 0 {
            try? await Task.sleep(nanoseconds: UInt64(drainSeconds * 1e9))
        }
    }
}
