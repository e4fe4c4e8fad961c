import Foundation

/// Why a scoring job should stop before it finishes: its request timed out, or its client went
/// away. Jobs check between items (a forward pass is never interrupted half-way).
struct JobControl: Sendable {
    /// When the request must be answered by.
    var deadline: ContinuousClock.Instant
    /// True once the client's connection is closed.
    var clientGone: @Sendable () -> Bool

    enum Stop: Error { case timedOut, clientGone }

    func check() throws {
        if clientGone() { throw Stop.clientGone }
        if ContinuousClock.now >= deadline { throw Stop.timedOut }
    }

    static func unbounded() -> JobControl { JobControl(deadline: .now + .seconds(86_400 * 365), clientGone: { false }) }
}

/// What became of a job handed to the gate.
enum Admission<T: Sendable>: Sendable {
    case done(T)
    /// Every worker busy and the queue full: answered 429 at once.
    case overloaded
    /// Still waiting (or still running, between items) at the request's deadline.
    case timedOut
    /// The client disconnected while the job waited or ran; nothing more was computed.
    case clientGone
}

/// At most `workers` scoring jobs at once and `queueLimit` waiting; the rest are turned away at
/// once so memory stays bounded under load. A waiting job leaves the queue at its deadline, and
/// a job whose client has gone is dropped when its turn comes instead of being computed. Jobs run
/// on a detached task, off the event loop.
actor AdmissionGate {
    let workers: Int
    let queueLimit: Int
    private var running = 0
    private var waiting: [(id: UInt64, resume: CheckedContinuation<Bool, Never>)] = []
    private var nextID: UInt64 = 0

    init(workers: Int, queueLimit: Int) {
        self.workers = max(1, workers)
        self.queueLimit = max(0, queueLimit)
    }

    nonisolated func run<T: Sendable>(_ control: JobControl = .unbounded(),
                                      _ job: @escaping @Sendable (JobControl) throws -> T) async throws -> Admission<T> {
        switch await enter(deadline: control.deadline) {
        case .full: return .overloaded
        case .expired: return .timedOut
        case .admitted: break
        }
        defer { Task { await self.leave() } }
        do {
            try control.check()
            return .done(try await Task.detached { try job(control) }.value)
        } catch JobControl.Stop.timedOut {
            return .timedOut
        } catch JobControl.Stop.clientGone {
            return .clientGone
        }
    }

    /// Jobs running and waiting, for /metrics.
    var load: (running: Int, waiting: Int) { (running, waiting.count) }

    private enum Entry { case admitted, full, expired }

    private func enter(deadline: ContinuousClock.Instant) async -> Entry {
        if running < workers {
            running += 1
            return .admitted
        }
        guard waiting.count < queueLimit else { return .full }
        nextID &+= 1
        let id = nextID
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            await self?.expire(id)
        }
        let admitted = await withCheckedContinuation { waiting.append((id, $0)) }
        timer.cancel()
        return admitted ? .admitted : .expired
    }

    /// A waiter whose deadline passed leaves the queue (a no-op once it was admitted).
    private func expire(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).resume.resume(returning: false)
    }

    private func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume.resume(returning: true)   // the slot passes straight to the next job
        }
    }
}
