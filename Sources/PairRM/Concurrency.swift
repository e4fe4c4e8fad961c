#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A heap-allocated pthread mutex (no Foundation, no OS-version gate).
final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Cooperative cancellation for the synchronous API: call `cancel()` from any thread; running
/// calls that were given this token stop before their next forward pass and throw
/// `CancellationError`. The async batch functions bridge Swift `Task` cancellation into one.
public final class CancellationToken: @unchecked Sendable {
    private let lock = Lock()
    private var cancelled = false

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Throws `CancellationError` when cancelled.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}

/// Runs `count` independent jobs on up to `workers` threads; each worker pulls the next index.
/// Returns the per-job results in order; the first error (by index) is rethrown after all
/// started jobs finished. Jobs not yet started when a job fails are skipped.
func parallelMap<T>(_ count: Int, workers: Int, _ body: (Int) throws -> T) throws -> [T] {
    if count == 0 { return [] }
    if workers <= 1 || count == 1 {
        return try (0..<count).map(body)
    }
    let state = ParallelMapState<T>(count: count)
    try withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: min(workers, count)) { _ in
            while true {
                let index: Int? = state.lock.withLock {
                    guard !state.failed, state.next < count else { return nil }
                    defer { state.next += 1 }
                    return state.next
                }
                guard let index else { return }
                do {
                    let value = try work(index)
                    state.lock.withLock { state.results[index] = value }
                } catch {
                    state.lock.withLock {
                        state.failed = true
                        state.errors.append((index, error))
                    }
                }
            }
        }
        if let first = state.errors.min(by: { $0.0 < $1.0 }) { throw first.1 }
    }
    return state.results.map { $0! }
}

final class ParallelMapState<T>: @unchecked Sendable {
    let lock = Lock()
    var next = 0
    var failed = false
    var results: [T?]
    var errors: [(Int, any Error)] = []
    init(count: Int) { results = Array(repeating: nil, count: count) }
}

/// A locked counter pair shared by worker threads.
final class ProgressState: @unchecked Sendable {
    let lock = Lock()
    var completed = 0, failed = 0
}
