#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard error (progress and diagnostics never mix with the output on stdout).
func printError(_ text: String) {
    writeStandardError(text + "\n")
}

/// `write(2)` to fd 2: unbuffered, and free of the C `stderr` global Swift 6 cannot prove safe.
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

/// A one-line progress bar redrawn in place on stderr, only when stderr is a terminal.
final class ProgressBar {
    let enabled = isatty(STDERR_FILENO) == 1
    let label: String
    let started = monotonicSeconds()
    var lastDraw = 0.0

    init(label: String) { self.label = label }

    func update(done: Int, total: Int, detail: String, force: Bool = false) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard force || now - lastDraw > 0.1 else { return }
        lastDraw = now
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = now - started
        let rate = elapsed > 0 ? Double(done) / elapsed / 1e6 : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let shortDetail = detail.count > 40 ? "…" + detail.suffix(39) : detail
        writeStandardError("\r\u{1B}[2K\(label) \(bar) \(Int(fraction * 100))% \(String(format1: rate)) MB/s ETA \(Int(eta))s \(shortDetail)")
    }

    func finish() {
        if enabled { writeStandardError("\r\u{1B}[2K") }
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// Human-readable byte counts.
func formatBytes(_ count: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count), unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(count) B" : "\(String(format1: value)) \(units[unit])"
}

/// Peak resident set size of this process so far (Linux reports kilobytes).
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}
