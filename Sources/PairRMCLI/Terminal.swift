#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard error (progress and diagnostics never mix with the output on stdout).
func printError(_ text: String) {
    writeStandardError(text + "\n")
}

/// Writes all of `text` to `fd` with write(2): unbuffered, so each result line is out before the
/// next is computed, and free of the C `stdout`/`stderr` globals Swift 6 cannot prove safe.
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0, errno == EINTR { continue }
        if written <= 0 { return }
        offset += written
    }
}

func writeStandardError(_ text: String) { writeAll(STDERR_FILENO, text) }
func writeStandardOutput(_ text: String) { writeAll(STDOUT_FILENO, text) }

/// A one-line progress bar redrawn in place on stderr, only when stderr is a terminal: the rate in
/// `unit`/s (counts divided by `unitScale`, e.g. bytes → MB), and with a known total a bar and an ETA.
final class ProgressBar: @unchecked Sendable {
    let enabled = isatty(STDERR_FILENO) == 1
    let label: String
    let unit: String
    let unitScale: Double
    let started = monotonicSeconds()
    var lastDraw = 0.0

    init(label: String, unit: String = "lines", unitScale: Double = 1) {
        self.label = label
        self.unit = unit
        self.unitScale = unitScale
    }

    func update(done: Int, total: Int?, detail: String = "", failed: Int = 0, force: Bool = false) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard force || now - lastDraw > 0.1 else { return }
        lastDraw = now
        let elapsed = now - started
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "\r\u{1B}[2K\(label) "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 30, filled = Int(fraction * Double(width))
            text += String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            text += unitScale == 1 ? " \(done)/\(total)" : " \(Int(fraction * 100))%"
            let eta = rate > 0 ? Double(total - done) / rate : 0
            text += " \(String(format1: rate / unitScale)) \(unit)/s ETA \(Int(eta.rounded()))s"
        } else {
            text += "\(done) \(unit) \(String(format1: rate / unitScale)) \(unit)/s"
        }
        if failed > 0 { text += " (\(failed) bad)" }
        if !detail.isEmpty { text += " " + (detail.count > 40 ? "…" + detail.suffix(39) : detail) }
        writeStandardError(text)
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
