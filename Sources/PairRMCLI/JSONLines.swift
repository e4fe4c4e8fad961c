import ArgumentParser
import PairRM
import PairRMProtocol
import PairRMRuntime
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options shared by the JSONL subcommands (compare, rank, best-of-n, compare-conversations).
struct RankerArguments: ParsableArguments {
    @Option(name: .long, help: modelHelp)
    var model: String?

    @Option(name: .long, help: recipeHelp)
    var recipe: String = "q8"

    @Option(name: .long, help: "Worker threads inside each forward pass.")
    var threads: Int = 1

    @Option(name: .long, help: "Input lines processed at once, each on its own inference context; output keeps the input order.")
    var batchSize: Int = 1

    @Option(name: .long, help: "Source token budget (PairRM: 1224).")
    var sourceMaxLength: Int?

    @Option(name: .long, help: "Candidate token budget (PairRM: 412).")
    var candidateMaxLength: Int?

    @Option(name: .long, help: ArgumentHelp("Over-long texts: 'truncate' keeps their beginning like LLM-Blender; 'error' rejects the line.",
                                            valueName: "truncate|error"))
    var truncation: Truncation = .truncate

    @Flag(name: .long, help: "Keep literal \"[SEP]\" in texts (HF-wrapper behaviour) instead of LLM-Blender's rewrite to a space.")
    var keepSepLiterals = false

    func loadRanker() throws -> PairRanker {
        try loadPairRanker(model: model, recipe: recipe, threads: threads, batchSize: batchSize, sourceMaxLength: sourceMaxLength,
                           candidateMaxLength: candidateMaxLength, rejectTruncation: truncation == .error,
                           replaceSeparatorLiterals: !keepSepLiterals)
    }
}

/// Loads the model named by `--model`, else `PAIRRM_MODEL`, else the published PairRM, with per-run options.
func loadPairRanker(model: String?, recipe: String = "q8", threads: Int, batchSize: Int = 1, sourceMaxLength: Int? = nil,
                    candidateMaxLength: Int? = nil, rejectTruncation: Bool = false, replaceSeparatorLiterals: Bool = true) throws -> PairRanker {
    let path = try resolveModelFile(model, recipe: recipe)
    do {
        let loaded = try PairRMModel(path: path)
        var options = PairRanker.defaultOptions(for: loaded)
        options.threads = threads
        options.batchSize = batchSize
        if let sourceMaxLength { options.sourceMaxLength = sourceMaxLength }
        if let candidateMaxLength { options.candidateMaxLength = candidateMaxLength }
        options.rejectTruncation = rejectTruncation
        options.replaceSeparatorLiterals = replaceSeparatorLiterals
        return try PairRanker(model: loaded, options: options)
    } catch let error as PairRMError where error.kind == .invalidArgument {
        throw ValidationError(error.description)
    }
}

enum Truncation: String, ExpressibleByArgument, CaseIterable { case truncate, error }

enum OnError: String, ExpressibleByArgument, CaseIterable { case stop, skip }

/// Input/output options shared by the JSONL subcommands.
struct LineArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read JSONL from FILE instead of standard input.", valueName: "FILE"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("""
        On a bad line: 'stop' writes the results before it, reports the line on stderr and exits 1; \
        'skip' writes {"id","error"} in its place, reports it and goes on (exit 0).
        """, valueName: "stop|skip"))
    var onError: OnError = .stop

    @Option(name: .long, help: "Lines longer than this many bytes are bad lines.")
    var maxLineBytes: Int = 8 << 20
}

/// Shared text of the subcommands' help.
let jsonLinesDiscussion = """
    Input is JSONL (one JSON object per line) on standard input or --input FILE.
    Output is one JSONL line per input line, in input order, on standard output,
    carrying the input's "id" when present. Blank lines are ignored. A bad line
    (invalid JSON, missing or mistyped fields, an empty candidate list, mismatched
    conversations, a line over --max-line-bytes, or with --truncation error a text
    over its token budget) is reported on stderr as "line N: …"; see --on-error.
    Results already written are never lost: each line is written whole. A progress
    bar (lines/s, ETA) is drawn on stderr when it is a terminal.

    Exit codes: 0 success (also with --on-error skip); 1 bad input line or model
    file; 64 command-line usage error.
    """

/// Reads lines from a file descriptor in blocks (no Foundation, no line-length limit beyond memory).
final class LineReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var start = 0
    var eof = false

    init(fd: Int32) { self.fd = fd }

    /// The next line without its "\n" (and a trailing "\r"), or nil at the end.
    func next() -> [UInt8]? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<newline])
                start = newline + 1
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            if eof {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
            var block = [UInt8](repeating: 0, count: 1 << 16)
            let count = block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { eof = true } else { buffer += block[0..<count] }
        }
    }
}

/// The JSONL loop shared by the subcommands: load the model, open the input, then process
/// `batchSize` lines at a time, writing in order; stop or skip on bad lines. Throws
/// `ExitCode(1)` after a bad line with `stop`.
func runJSONLines(task: LineTask, ranker: RankerArguments, lines: LineArguments, label: String) throws {
    let pairRanker = try loadRankerOrExit(ranker)
    let input = try openInput(lines.input)
    defer { if input.fd != STDIN_FILENO { close(input.fd) } }
    try processLines(LineProcessor(task: task, maxLineBytes: lines.maxLineBytes), ranker: pairRanker, reader: LineReader(fd: input.fd),
                     total: input.lineCount, onError: lines.onError, label: label)
}

/// The model, or exit 1 with its error (usage errors stay usage errors: exit 64).
func loadRankerOrExit(_ arguments: RankerArguments) throws -> PairRanker {
    do {
        return try arguments.loadRanker()
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

/// `--input FILE` (counted first when it is a regular file and a progress bar is shown, so the
/// bar has an ETA; pipes and FIFOs are read once) or standard input.
func openInput(_ path: String?) throws -> (fd: Int32, lineCount: Int?) {
    guard let path else { return (STDIN_FILENO, nil) }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        printError("error: cannot open --input \(path): \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
    var info = stat()
    guard isatty(STDERR_FILENO) == 1, fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return (fd, nil) }
    let counter = LineReader(fd: open(path, O_RDONLY))
    defer { close(counter.fd) }
    var count = 0
    while counter.next() != nil { count += 1 }
    return (fd, count)
}

/// Reads, scores and writes: each result line is written whole and in input order.
func processLines(_ processor: LineProcessor, ranker: PairRanker, reader: LineReader, total: Int?, onError: OnError, label: String) throws {
    let bar = ProgressBar(label: label)
    defer { bar.finish() }
    let chunkSize = max(1, ranker.defaults.batchSize)
    var number = 0, done = 0, failed = 0
    while true {
        var chunk: [(number: Int, bytes: [UInt8])] = []
        while chunk.count < chunkSize, let line = reader.next() {
            number += 1
            chunk.append((number, line))
        }
        if chunk.isEmpty { break }
        let base = done, baseFailed = failed
        let outcomes = processor.process(chunk, ranker: ranker) { p in bar.update(done: base + p.completed, total: total, failed: baseFailed + p.failed) }
        for outcome in outcomes {
            done += 1
            switch outcome {
            case .blank: continue
            case .output(let text): writeStandardOutput(text + "\n")
            case .failure(let failure):
                failed += 1
                bar.finish()
                printError("error: \(failure)")
                if onError == .stop { throw ExitCode(1) }
                writeStandardOutput(failure.record + "\n")
            }
        }
        bar.update(done: done, total: total, failed: failed, force: true)
    }
    bar.finish()
    if failed > 0 { printError("\(failed) bad line\(failed == 1 ? "" : "s") skipped (--on-error skip)") }
}

/// Parses a comma-separated permutation like "2,0,1".
func parseOrder(_ text: String) throws -> [Int] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters() }
    let values = parts.compactMap { Int($0) }
    guard values.count == parts.count, !values.isEmpty else {
        throw ValidationError("--start-order must be comma-separated indices, e.g. 2,0,1")
    }
    return values
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
