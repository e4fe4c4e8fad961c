import Dispatch

/// Runs `body(i)` for i in 0..<count on up to `threads` threads. Work items are the unit of
/// determinism: callers choose items whose results do not depend on which thread runs them.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 || count <= 1 {
        for index in 0..<count { body(index) }
    } else {
        // The work items touch disjoint memory by construction (callers split by rows, heads or
        // panels), which the compiler cannot see through raw pointers.
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let work = escapable
            DispatchQueue.concurrentPerform(iterations: count) { work($0) }
        }
    }
}

/// Splits [0, n) into ranges whose boundaries are multiples of `granularity` (the kernels'
/// panel height), `parts` of them at most.
func splitRanges(_ n: Int, parts: Int, granularity: Int = 16) -> [Range<Int>] {
    let units = (n + granularity - 1) / granularity
    let pieces = max(1, min(parts, units))
    var ranges: [Range<Int>] = []
    var start = 0
    for piece in 0..<pieces {
        let endUnit = units * (piece + 1) / pieces
        let end = min(n, endUnit * granularity)
        if end > start { ranges.append(start..<end) }
        start = end
    }
    return ranges
}
