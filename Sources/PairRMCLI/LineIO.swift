import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }

/// One input line as read by `LineReader`.
enum InputLine {
    /// The line without its "\n" (and a trailing "\r").
    case bytes([UInt8])
    /// The line went over the byte limit: it was not buffered; the rest of it is discarded up to
    /// the next newline before the following line is read. `seen` is how many bytes were read.
    case tooLong(seen: Int)
}

/// Reads lines from a file descriptor in 64 KiB blocks. Each byte is scanned once (linear time
/// whatever the line lengths), a line is buffered only up to `maxLineBytes` (a longer one is
/// reported as `.tooLong` as soon as it passes the limit, then skipped up to its newline), and a
/// UTF-8 byte-order mark at the very start of the input is dropped.
final class LineReader {
    let fd: Int32
    let maxLineBytes: Int
    private var block = [UInt8](repeating: 0, count: 1 << 16)
    private var position = 0
    private var end = 0
    private var eof = false
    private var discarding = false
    private var atStart = true
    /// errno of a failed read(2) (the input then ends there).
    private(set) var readError: Int32?

    init(fd: Int32, maxLineBytes: Int = Int.max) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
    }

    /// Refills the block; false at the end of the input (or on a read error).
    private func fill() -> Bool {
        if eof { return false }
        while true {
            let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { readError = errno }
            if count <= 0 { eof = true; return false }
            position = 0
            end = count
            return true
        }
    }

    /// Index of the next "\n" in block[position..<end], or nil.
    private func newline() -> Int? {
        block.withUnsafeBytes { raw -> Int? in
            guard end > position, let found = memchr(raw.baseAddress! + position, 0x0A, end - position) else { return nil }
            return raw.baseAddress!.distance(to: UnsafeRawPointer(found))
        }
    }

    /// The next line, or nil at the end of the input.
    func next() -> InputLine? {
        // Finish skipping an over-long line.
        while discarding {
            if position == end, !fill() { return nil }
            if let index = newline() { position = index + 1; discarding = false } else { position = end }
        }
        var line: [UInt8] = []
        var started = false
        // A trailing "\r" is dropped, so one byte over the limit may still be a "\r".
        let keep = maxLineBytes == Int.max ? Int.max : maxLineBytes + 1
        while true {
            if position == end {
                if !fill() {
                    guard started else { return nil }
                    return finish(line)
                }
            }
            started = true
            let stop = newline()
            let chunkEnd = stop ?? end
            let length = chunkEnd - position
            if line.count + length > keep {
                atStart = false
                let seen = line.count + length
                position = stop.map { $0 + 1 } ?? end
                discarding = stop == nil
                return .tooLong(seen: seen)
            }
            line.append(contentsOf: block[position..<chunkEnd])
            if let stop {
                position = stop + 1
                return finish(line)
            }
            position = end
        }
    }

    private func finish(_ bytes: [UInt8]) -> InputLine {
        var line = bytes
        if atStart {
            // A UTF-8 byte-order mark before the first line.
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        if line.last == 0x0D { line.removeLast() }
        if line.count > maxLineBytes { return .tooLong(seen: line.count) }
        return .bytes(line)
    }
}

/// Counts the lines of a regular file (for a progress bar's ETA), scanning each byte once.
func countLines(path: String) -> Int? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var block = [UInt8](repeating: 0, count: 1 << 16)
    var count = 0
    var last: UInt8 = 0x0A
    while true {
        let got = block.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
        if got < 0, errno == EINTR { continue }
        if got <= 0 { break }
        for byte in block[0..<got] where byte == 0x0A { count += 1 }
        last = block[got - 1]
    }
    return last == 0x0A ? count : count + 1
}

/// `--input FILE` (`-` or none: standard input). A directory or unreadable path is an input
/// error (exit 1). A regular file is counted first when a progress bar is shown, so the bar has
/// an ETA; pipes and FIFOs are read once.
func openInput(_ path: String?, countForProgress: Bool = true) throws -> (fd: Int32, lineCount: Int?, name: String) {
    guard let path, path != "-" else { return (STDIN_FILENO, nil, "standard input") }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        printError("error: cannot open --input \(path): \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        printError("error: cannot read --input \(path): \(String(cString: strerror(errno)))")
        close(fd)
        throw ExitCode(1)
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        printError("error: --input \(path) is a directory; give a JSONL file, - or nothing for standard input")
        close(fd)
        throw ExitCode(1)
    }
    guard countForProgress, isatty(STDERR_FILENO) == 1, (info.st_mode & S_IFMT) == S_IFREG else { return (fd, nil, path) }
    return (fd, countLines(path: path), path)
}

/// Where result lines go: standard output, or with `--output FILE` a temporary file in FILE's
/// folder renamed over FILE only when the run succeeds (`commit`); on failure (`abandon`) the
/// temporary file is removed and an existing FILE is left as it was.
final class OutputSink {
    let fd: Int32
    let path: String?
    let temporaryPath: String?
    /// Collect small writes (tokenize); otherwise each line is written at once.
    let buffered: Bool
    private var pending: [UInt8] = []
    private(set) var writeError: Int32?
    private var closed = false

    init(path: String?, buffered: Bool = false) throws {
        self.buffered = buffered
        guard let path, path != "-" else {
            fd = STDOUT_FILENO
            self.path = nil
            temporaryPath = nil
            return
        }
        var info = stat()
        let kind: mode_t? = stat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
        if kind == S_IFDIR {
            printError("error: --output \(path) is a directory")
            throw ExitCode(1)
        }
        // A device, FIFO or socket (/dev/null, a pipe to another program) is written in place:
        // renaming a temporary file over it would replace the device node with a regular file.
        if let kind, kind != S_IFREG {
            let descriptor = open(path, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                printError("error: cannot write --output \(path): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
            fd = descriptor
            self.path = path
            temporaryPath = nil
            return
        }
        // A link to a regular file: the file it names is replaced, and the link stays.
        var linkInfo = stat()
        var destination = path
        if lstat(path, &linkInfo) == 0, (linkInfo.st_mode & S_IFMT) == S_IFLNK, let resolved = realpath(path, nil) {
            destination = String(cString: resolved)
            free(resolved)
        }
        let slash = destination.lastIndex(of: "/")
        let folder = slash.map { String(destination[...$0]) } ?? ""
        let base = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var template = Array((folder + "." + base + ".tmp-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            printError("error: cannot write --output \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        // mkstemp makes the file 0600; give it the usual permissions (umask applies).
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, 0o666 & ~mask)
        fd = descriptor
        self.path = destination
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    func write(_ text: String) {
        if buffered {
            pending.append(contentsOf: text.utf8)
            if pending.count >= 1 << 16 { flush() }
        } else {
            writeBytes(Array(text.utf8))
        }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        writeBytes(pending)
        pending.removeAll(keepingCapacity: true)
    }

    private func writeBytes(_ bytes: [UInt8]) {
        guard writeError == nil else { return }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { writeError = written < 0 ? errno : EIO; return }
            offset += written
        }
    }

    /// Makes the output final: flushes, and with --output renames the temporary file over FILE.
    func commit() throws {
        flush()
        if let path, temporaryPath == nil, !closed {   // written in place (a device or FIFO)
            closed = true
            if close(fd) != 0, writeError == nil { writeError = errno }
            if let writeError {
                printError("error: writing --output \(path) failed: \(String(cString: strerror(writeError)))")
                throw ExitCode(1)
            }
            return
        }
        guard let path, let temporaryPath, !closed else {
            if let writeError, path == nil, writeError != EPIPE {
                printError("error: writing standard output failed: \(String(cString: strerror(writeError)))")
                throw ExitCode(1)
            }
            return
        }
        closed = true
        if writeError == nil, fsync(fd) != 0 { writeError = errno }
        if close(fd) != 0, writeError == nil { writeError = errno }
        if let writeError {
            unlink(temporaryPath)
            printError("error: writing --output \(path) failed: \(String(cString: strerror(writeError))); \(path) was not changed")
            throw ExitCode(1)
        }
        guard rename(temporaryPath, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporaryPath)
            printError("error: cannot replace --output \(path): \(problem)")
            throw ExitCode(1)
        }
    }

    /// After a failure: with --output, removes the temporary file (FILE is untouched).
    func abandon() {
        flush()
        guard let path, let temporaryPath, !closed else { return }
        closed = true
        close(fd)
        unlink(temporaryPath)
        printError("note: --output \(path) was not written (nothing replaced it)")
    }
}
