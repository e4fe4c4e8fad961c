import ArgumentParser
import Foundation
import PairRM
import PairRMConverter
import PairRMFormat
import PairRMProtocol
import PairRMRuntime
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Largest `--threads`.
let maxThreads = 1024
/// Most candidates one line may have with full ranking (`rank --strategy full`, `best-of-n
/// --strategy full`): every ordered pair is a forward pass, n(n−1) planned up front.
let maxFullCandidates = 1024

/// `--threads N` (1…1024) or `--threads auto` (the CPUs this process may run on).
struct ThreadCount: ExpressibleByArgument, CustomStringConvertible, Sendable {
    /// nil: auto.
    var requested: Int?

    init?(argument: String) {
        if argument.lowercased() == "auto" { requested = nil; return }
        guard let value = Int(argument) else { return nil }
        requested = value
    }

    init(_ value: Int) { requested = value }

    var description: String { requested.map(String.init) ?? "auto" }

    static let help = ArgumentHelp("Worker threads inside each forward pass: 1…\(maxThreads), or auto (the CPUs this process may use).",
                                   valueName: "n|auto")

    func validate() throws {
        if let requested, !(1...maxThreads).contains(requested) {
            throw ValidationError("--threads must be ≥ 1 and ≤ \(maxThreads), or auto (got \(requested))")
        }
    }

    var value: Int { requested ?? min(maxThreads, availableProcessors()) }
}

/// The CPUs this process may use: its affinity mask (sched_getaffinity, as /proc/self/status
/// reports it: Glibc does not export the call to Swift), capped by Foundation's count (which
/// also sees cgroup CPU quotas).
func availableProcessors() -> Int {
    let reported = max(1, ProcessInfo.processInfo.activeProcessorCount)
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) {
        let allowed = line.dropFirst("Cpus_allowed:".count).reduce(0) { count, digit in
            count + (digit.hexDigitValue ?? 0).nonzeroBitCount
        }
        if allowed > 0 { return min(allowed, reported) }
    }
    #endif
    return reported
}

/// `--no-mmap` and `--no-verify`, on every command that loads a model.
struct LoadArguments: ParsableArguments {
    @Flag(name: .customLong("no-mmap"), help: "Read the model file into memory instead of memory-mapping it.")
    var noMmap = false

    @Flag(name: .customLong("no-verify"), help: "Skip the tensor checksums at load (checked by default; see `pairrm verify`).")
    var noVerify = false

    var options: LoadOptions { LoadOptions(verifyTensors: !noVerify, readIntoMemory: noMmap) }
}

/// Options shared by the JSONL subcommands (compare, rank, best-of-n, compare-conversations).
struct RankerArguments: ParsableArguments {
    @Option(name: .long, help: modelHelp)
    var model: String?

    @Option(name: .long, help: recipeHelp)
    var recipe: String = "q8"

    @Option(name: .long, parsing: .unconditional, help: ThreadCount.help)
    var threads: ThreadCount = ThreadCount(1)

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

    @OptionGroup var load: LoadArguments

    func validate() throws {
        try threads.validate()
        guard WeightsRecipe(rawValue: recipe) != nil else {
            throw ValidationError("--recipe must be one of \(WeightsRecipe.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(recipe)\")")
        }
        guard (1...1024).contains(batchSize) else { throw ValidationError("--batch-size must be ≥ 1 and ≤ 1024 (got \(batchSize))") }
        if let sourceMaxLength, sourceMaxLength < 3 {
            throw ValidationError("--source-max-length must be ≥ 3 ([CLS], prefix, [SEP]; PairRM: 1224), got \(sourceMaxLength)")
        }
        if let candidateMaxLength, candidateMaxLength < 3 {
            throw ValidationError("--candidate-max-length must be ≥ 3 ([CLS], prefix, [SEP]; PairRM: 412), got \(candidateMaxLength)")
        }
    }

    func loadRanker() throws -> PairRanker {
        try loadPairRanker(model: model, recipe: recipe, threads: threads.value, batchSize: batchSize, sourceMaxLength: sourceMaxLength,
                           candidateMaxLength: candidateMaxLength, rejectTruncation: truncation == .error,
                           replaceSeparatorLiterals: !keepSepLiterals, load: load.options)
    }
}

/// A model or input problem: printed as "error: …", exit 1, no usage text.
struct RunError: Error, CustomStringConvertible {
    var description: String
}

/// Loads the model named by `--model`, else `PAIRRM_MODEL`, else the published PairRM, with per-run options.
/// Throws `ValidationError` for command-line mistakes (exit 64; budgets that only the loaded model
/// rejects are printed here and thrown as `ExitCode(64)`) and `RunError` for model-file problems (exit 1).
func loadPairRanker(model: String?, recipe: String = "q8", threads: Int, batchSize: Int = 1, sourceMaxLength: Int? = nil,
                    candidateMaxLength: Int? = nil, rejectTruncation: Bool = false, replaceSeparatorLiterals: Bool = true,
                    load: LoadOptions = LoadOptions(verifyTensors: true)) throws -> PairRanker {
    let path: String
    do {
        path = try resolveModelFile(model, recipe: recipe)
    } catch let error as ValidationError {
        throw error
    } catch {
        throw RunError(description: cliMessage("\(error)"))
    }
    let loaded: PairRMModel
    do {
        loaded = try PairRMModel(path: path, options: load)
    } catch {
        throw RunError(description: cliMessage("\(error)"))
    }
    var options = PairRanker.defaultOptions(for: loaded)
    options.threads = threads
    options.batchSize = batchSize
    if let sourceMaxLength { options.sourceMaxLength = sourceMaxLength }
    if let candidateMaxLength { options.candidateMaxLength = candidateMaxLength }
    options.rejectTruncation = rejectTruncation
    options.replaceSeparatorLiterals = replaceSeparatorLiterals
    do {
        return try PairRanker(model: loaded, options: options)
    } catch let error as PairRMError where error.kind == .invalidArgument && (sourceMaxLength != nil || candidateMaxLength != nil) {
        // The budgets given on the command line (checked against the model once it is loaded):
        // a usage error, reported without the root command's usage text.
        printError("error: " + cliMessage(error.description))
        throw ExitCode(64)
    } catch {
        throw RunError(description: "\(path): " + cliMessage("\(error)"))
    }
}

/// Rewrites the Swift API names in library messages to the flags a CLI user types.
func cliMessage(_ text: String) -> String {
    var text = text
    let replacements = [
        ("sourceMaxLength/candidateMaxLength", "--source-max-length/--candidate-max-length"),
        ("sourceMaxLength", "--source-max-length"),
        ("candidateMaxLength", "--candidate-max-length"),
        ("startOrder", "--start-order"),
        ("batchSize", "--batch-size"),
        ("rejectTruncation", "--truncation error"),
        (", or nil for a random order", ", or leave --start-order out"),
        (" or nil for a random order", " or leave --start-order out"),
        ("or allow truncation", "or use --truncation truncate"),
        ("refMode", "--reference-mode"),
        ("use the exact upper-case roles", "use the roles"),
    ]
    for (api, flag) in replacements { text = text.replacingOccurrences(of: api, with: flag) }
    if text.hasPrefix("threads:") { text = "--" + text }
    return text.replacingOccurrences(of: "----", with: "--")
}

enum Truncation: String, ExpressibleByArgument, CaseIterable { case truncate, error }

/// `--shard I/N`: every N-th input line starting at line I+1, so N independent jobs (a batch
/// scheduler's array, N machines) split one JSONL file without preprocessing it.
struct Shard: ExpressibleByArgument, Equatable, Sendable {
    var index: Int
    var count: Int

    init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
              count >= 1, count <= 1_000_000, index >= 0, index < count else { return nil }
        self.init(index: index, count: count)
    }

    static var defaultValueDescription: String { "0/1" }

    /// Whether 1-based input line `number` belongs to this shard.
    func contains(line number: Int) -> Bool { (number - 1) % count == index }

    /// Lines of this shard among `total` input lines.
    func lines(of total: Int) -> Int { total > index ? (total - index + count - 1) / count : 0 }
}

enum OnError: String, ExpressibleByArgument, CaseIterable { case stop, skip }

/// Input/output options shared by the JSONL subcommands.
struct LineArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read JSONL from FILE instead of standard input ('-': standard input).", valueName: "FILE"))
    var input: String?

    @Option(name: .long, help: ArgumentHelp("""
        Write the results to FILE instead of standard output: to a temporary file renamed over FILE \
        at the end, so a failed run leaves FILE as it was.
        """, valueName: "FILE"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("""
        On a bad line: 'stop' writes the results before it, reports the line on stderr and exits 1; \
        'skip' writes {"id","error"} in its place, reports it and goes on (exit 0).
        """, valueName: "stop|skip"))
    var onError: OnError = .stop

    @Option(name: .long, help: "Lines longer than this many bytes are bad lines (they are skipped unread, not buffered).")
    var maxLineBytes: Int = 8 << 20

    @Option(name: .long, help: ArgumentHelp("""
        Process only shard I of N (0 ≤ I < N): input lines I+1, I+1+N, I+1+2N, … (line numbers in \
        messages stay those of the whole input). N jobs with 0/N … N-1/N together cover every line \
        once; give lines an "id" to join their outputs.
        """, valueName: "I/N"))
    var shard: Shard?

    func validate() throws {
        guard maxLineBytes >= 1 else { throw ValidationError("--max-line-bytes must be ≥ 1 (got \(maxLineBytes))") }
    }
}

/// Shared text of the subcommands' help.
let jsonLinesDiscussion = """
    Input is JSONL (one JSON object per line, UTF-8; a leading byte-order mark is
    skipped) on standard input, --input FILE or --input -. Output is one JSONL line
    per input line, in input order, on standard output or --output FILE (replaced
    atomically at the end; left as it was if the run fails), carrying the input's
    "id" when present. Blank lines are ignored. A bad line (invalid JSON, missing or
    mistyped fields, an empty candidate list, more than \(maxFullCandidates) candidates
    with full ranking, mismatched conversations, a line over --max-line-bytes, or
    with --truncation error a text over its token budget) is reported on stderr as
    "line N: …"; see --on-error. Results already written to standard output are
    never lost: each line is written whole. A progress bar (lines/s, ETA) is drawn
    on stderr when it is a terminal. The model's tensor checksums are verified at
    load (--no-verify skips that); --no-mmap reads the file instead of mapping it.

    Exit codes: 0 success (also with --on-error skip); 1 bad input line, unreadable
    input or bad model file ("error: …"); 64 command-line usage error.
    """

/// A bad input line, as the CLI reports it (the same text and `{"id","error"}` record as
/// `LineFailure`, which only PairRMProtocol can create).
struct BadLine: Error, CustomStringConvertible, Sendable {
    var line: Int
    var id: JSONValue?
    var message: String

    init(line: Int, id: JSONValue?, message: String) {
        self.line = line
        self.id = id
        self.message = cliMessage(message)
    }

    init(_ failure: LineFailure) { self.init(line: failure.line, id: failure.id, message: failure.message) }

    var description: String { "line \(line): \(message)" }

    var record: String {
        var members: [(String, JSONValue)] = []
        if let id { members.append(("id", id)) }
        members.append(("error", .string(description)))
        return JSONValue.object(members).serialized
    }
}

/// CLI-side checks and rewrites of a line before `LineProcessor` runs it: candidate caps,
/// `--start-order` length, seeded bubble start orders and a stray "reference".
struct LinePreparer: Sendable {
    var task: LineTask
    var maxLineBytes: Int
    /// best-of-n bubble without --start-order: each line's start order is drawn from this seed.
    var seed: UInt64?

    enum Prepared: Sendable {
        case run(LineProcessor, [UInt8])
        case failure(BadLine)
    }

    func prepare(_ bytes: [UInt8], number: Int) -> Prepared {
        let base = LineProcessor(task: task, maxLineBytes: maxLineBytes)
        if case .compare = task { return .run(base, bytes) }
        // Lines that do not parse get LineProcessor's own message.
        guard let value = try? JSONValue.parse(bytes), case .object = value else { return .run(base, bytes) }
        let id = value["id"]
        func fail(_ message: String) -> Prepared { .failure(BadLine(line: number, id: id, message: message)) }
        switch task {
        case .compare:
            return .run(base, bytes)
        case .compareConversations:
            return .run(base, bytes)   // roles are matched case-insensitively by LineProcessor
        case .rank, .select, .rankWithReference:
            if case .rankWithReference = task {} else if let reference = value["reference"], reference != .null {
                if case .rank = task {
                    return fail("the line has a \"reference\" field, which is used only with --reference-mode (rank_with_ref); "
                                + "add --reference-mode MODE (the line's reference then replaces MODE's pick) or drop the field")
                }
                return fail("the line has a \"reference\" field, which best-of-n does not use; drop it, or use "
                            + "`pairrm rank --reference-mode MODE` to rank against it")
            }
            guard case .array(let candidates)? = value["candidates"] else { return .run(base, bytes) }
            let count = candidates.count
            var full = false
            if case .rank(.fullMatrix) = task { full = true }
            if case .select(.full, _, _) = task { full = true }
            if full, count > maxFullCandidates {
                return fail("the line has \(count) candidates; full ranking compares every ordered pair (n(n−1) forward passes) "
                            + "and takes at most \(maxFullCandidates) per line — split the line, or use --strategy merge-sort "
                            + "(rank) / --strategy bubble (best-of-n)")
            }
            if case .select(.bubble(let start), let worst, let returnAll) = task, count > 0 {
                if let start, start.count != count {
                    return fail("the line has \(count) candidate\(count == 1 ? "" : "s") but --start-order lists \(start.count) "
                                + "indices; --start-order applies to every line, so each line needs exactly \(start.count) candidates")
                }
                if start == nil, let seed, count > 1 {
                    let order = seededPermutation(count, seed: seed, line: number)
                    return .run(LineProcessor(task: .select(strategy: .bubble(startOrder: order), worst: worst, returnAll: returnAll),
                                              maxLineBytes: maxLineBytes), bytes)
                }
            }
            return .run(base, bytes)
        }
    }
}

/// A permutation of 0..<n from `seed` and the line number (SplitMix64 + Fisher–Yates): the same
/// input and seed always give the same start orders, whatever the batch size.
func seededPermutation(_ n: Int, seed: UInt64, line: Int) -> [Int] {
    var state = seed &+ UInt64(truncatingIfNeeded: line) &* 0x9E37_79B9_7F4A_7C15
    func nextRandom() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    var order = Array(0..<n)
    if n < 2 { return order }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(nextRandom() % UInt64(i + 1))
        order.swapAt(i, j)
    }
    return order
}

/// Output lines with negative zeros written as 0.0 (the "id" is copied as given).
func normalizedOutput(_ text: String) -> String {
    guard text.contains("-0"), let value = try? JSONValue.parse(text), case .object(let members) = value else { return text }
    var changed = false
    func fix(_ item: JSONValue) -> JSONValue {
        switch item {
        case .number(let number) where number.hasPrefix("-") && Double(number) == 0:
            changed = true
            return .number("0.0")
        case .array(let elements): return .array(elements.map(fix))
        default: return item
        }
    }
    let fixed = members.map { key, item in key == "id" ? (key, item) : (key, fix(item)) }
    return changed ? JSONValue.object(fixed).serialized : text
}

/// The JSONL loop shared by the subcommands: open the input and output, load the model, then
/// process `batchSize` lines at a time, writing in order; stop or skip on bad lines. Throws
/// `ExitCode(1)` after a bad line with `stop`, or on a model or input error.
func runJSONLines(task: LineTask, ranker: RankerArguments, lines: LineArguments, label: String, seed: UInt64? = nil) throws {
    let input = try openInput(lines.input)
    defer { if input.fd != STDIN_FILENO { close(input.fd) } }
    let output = try OutputSink(path: lines.output)
    do {
        let pairRanker = try loadRankerOrExit(ranker)
        try processLines(LinePreparer(task: task, maxLineBytes: lines.maxLineBytes, seed: seed), ranker: pairRanker,
                         reader: LineReader(fd: input.fd, maxLineBytes: lines.maxLineBytes), output: output,
                         total: input.lineCount.map { lines.shard?.lines(of: $0) ?? $0 }, onError: lines.onError, label: label,
                         inputName: input.name, shard: lines.shard)
        try output.commit()
    } catch {
        output.abandon()
        throw error
    }
}

/// The model, or exit 1 with its error (usage errors stay usage errors: exit 64).
func loadRankerOrExit(_ arguments: RankerArguments) throws -> PairRanker {
    do {
        return try arguments.loadRanker()
    } catch let error as ValidationError {
        throw error
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}

/// Reads, scores and writes: each result line is written whole and in input order.
func processLines(_ preparer: LinePreparer, ranker: PairRanker, reader: LineReader, output: OutputSink, total: Int?,
                  onError: OnError, label: String, inputName: String, shard: Shard? = nil) throws {
    let bar = ProgressBar(label: label)
    defer { bar.finish() }
    let chunkSize = max(1, ranker.defaults.batchSize)
    var number = 0, done = 0, failed = 0
    while true {
        var chunk: [(number: Int, line: InputLine)] = []
        while chunk.count < chunkSize, let line = reader.next() {
            number += 1
            if let shard, !shard.contains(line: number) { continue }
            chunk.append((number, line))
        }
        if chunk.isEmpty { break }
        var outcomes = [LineOutcome?](repeating: nil, count: chunk.count)
        var bad = [BadLine?](repeating: nil, count: chunk.count)
        var jobs: [(slot: Int, number: Int, processor: LineProcessor, bytes: [UInt8])] = []
        for (slot, item) in chunk.enumerated() {
            switch item.line {
            case .tooLong(let seen):
                bad[slot] = BadLine(line: item.number, id: nil, message:
                    "the line is over the \(preparer.maxLineBytes)-byte limit (\(seen) bytes read before it was skipped; "
                    + "raise the limit with --max-line-bytes)")
            case .bytes(let bytes):
                switch preparer.prepare(bytes, number: item.number) {
                case .failure(let failure): bad[slot] = failure
                case .run(let processor, let prepared): jobs.append((slot, item.number, processor, prepared))
                }
            }
        }
        let base = done + (chunk.count - jobs.count), baseFailed = failed + (chunk.count - jobs.count)
        let results = ranker.batch(jobs, progress: { p in bar.update(done: base + p.completed, total: total, failed: baseFailed + p.failed) }) {
            ranker, job, options in job.processor.process(job.bytes, number: job.number, ranker: ranker, options: options)
        }
        for (job, result) in zip(jobs, results) {
            switch result {
            case .success(let outcome): outcomes[job.slot] = outcome
            case .failure(let error): bad[job.slot] = BadLine(line: job.number, id: nil, message: "\(error)")
            }
        }
        for slot in chunk.indices {
            done += 1
            let failure: BadLine
            switch outcomes[slot] {
            case .blank?: continue
            case .output(let text)?: output.write(normalizedOutput(text) + "\n"); continue
            case .failure(let lineFailure)?: failure = BadLine(lineFailure)
            case nil: failure = bad[slot] ?? BadLine(line: chunk[slot].number, id: nil, message: "not processed")
            }
            do {
                failed += 1
                bar.finish()
                printError("error: \(failure)")
                if onError == .stop { throw ExitCode(1) }
                output.write(failure.record + "\n")
            }
        }
        bar.update(done: done, total: total, failed: failed, force: true)
    }
    bar.finish()
    if let problem = reader.readError {
        printError("error: reading \(inputName) failed after line \(number): \(String(cString: strerror(problem)))")
        throw ExitCode(1)
    }
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
