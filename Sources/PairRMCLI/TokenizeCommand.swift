import ArgumentParser
import PairRM
import PairRMProtocol
import PairRMFormat
import PairRMTokenizer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text with a .prm file's vocabulary (PairRM's DeBERTa-v3 tokenizer).",
        discussion: """
        Reads one input per line and writes one JSON object per line:
          {"id": <copied from the input, if present>, "ids": [...], "pieces": [...]}
        Input lines are JSON objects with a string "text" (other fields are ignored,
        "id" may be any JSON value), or, with --plain, the raw text of the line (a
        trailing CR is dropped). Ids never include [CLS]/[SEP].

        Modes: `pairrm` (default) = transformers 4.x DebertaV2TokenizerFast as PairRM
        uses it (added tokens such as <|source|> and [SEP] recognized, unknown
        characters -> [UNK]); `sentencepiece` = sentencepiece's
        SentencePieceProcessor.encode (byte fallback, added-token strings are plain
        text).

        A bad input line (invalid JSON, no string "text", over --max-line-bytes) is
        reported on stderr with its line number; with --on-error stop (default) the
        command then exits 1, with --on-error skip it writes {"id","error"} in its
        place (like the other JSONL commands) and goes on. Every output line is
        complete JSON, whatever happens. A leading UTF-8 byte-order mark is skipped;
        --input - is standard input; an unreadable input or a directory is an error
        (exit 1).

        --benchmark CORPUS times loading and single-thread encoding of CORPUS (one
        text per line, each encoded separately, best of --passes) in both modes and
        prints one JSON object.

        Examples:
          echo '{"id": 7, "text": "Hello world"}' |
              pairrm tokenize --model pairrm-q8.prm
          pairrm tokenize --model pairrm-q8.prm --plain --no-pieces \\
              --input prompts.txt
          PAIRRM_MODEL=pairrm-q8.prm pairrm tokenize --mode sentencepiece \\
              < data.jsonl > ids.jsonl
          pairrm tokenize --model pairrm-q8.prm --benchmark bench-corpus.txt
        """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case pairrm, sentencepiece
        var tokenizerMode: TokenizerMode { self == .pairrm ? .pairRM : .sentencePiece }
    }

    enum OnError: String, ExpressibleByArgument, CaseIterable {
        case stop, skip
    }

    @Option(help: modelHelp)
    var model: String?

    @Option(help: ArgumentHelp("Read this file instead of standard input ('-': standard input).", valueName: "FILE"))
    var input: String?

    @Option(help: ArgumentHelp("Write to FILE instead of standard output (a temporary file renamed over FILE at the end; a failed run leaves FILE as it was).",
                               valueName: "FILE"))
    var output: String?

    @Option(help: "Lines longer than this many bytes are bad lines (skipped unread).")
    var maxLineBytes: Int = 8 << 20

    @OptionGroup var load: LoadArguments

    @Flag(help: "Each input line is the text itself, not JSON.")
    var plain = false

    @Option(help: "pairrm (HF fast tokenizer, what PairRM uses) or sentencepiece.")
    var mode: Mode = .pairrm

    @Flag(help: "Leave the \"pieces\" array out of the output.")
    var noPieces = false

    @Option(help: "On a bad input line: stop (exit 1) or skip it (report it, write {\"id\",\"error\"} in its place and continue).")
    var onError: OnError = .stop

    @Option(help: ArgumentHelp("Time load and encoding of this corpus (one text per line) and print JSON.", valueName: "corpus"))
    var benchmark: String?

    @Option(help: "Timed passes over the corpus per mode (the best one counts).")
    var passes = 3

    func validate() throws {
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be ≥ 1 (got \(maxLineBytes))") }
    }

    func run() throws {
        let path: String
        do {
            path = try resolveModelFile(model)
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let openStart = monotonicSeconds()
        let file: ModelFile
        let tokenizer: Tokenizer
        do {
            file = try ModelFile(path: path, options: load.options)
            tokenizer = try Tokenizer(vocabulary: file.vocabulary, settings: TokenizerSettings(metadata: file.metadata))
        } catch let error as FormatError {
            printError("error: \(error)")
            throw ExitCode(1)
        } catch let error as TokenizerError {
            printError("error: \(path): \(error)")
            throw ExitCode(1)
        } catch {
            printError("error: \(path): \(error)")
            throw ExitCode(1)
        }
        let openSeconds = monotonicSeconds() - openStart
        if let benchmark {
            try runBenchmark(file: file, corpus: benchmark, openSeconds: openSeconds)
            return
        }
        let lines = JSONLineTokenizer(tokenizer: tokenizer, mode: mode.tokenizerMode, includePieces: !noPieces, plain: plain)
        let source = try openInput(input, countForProgress: false)
        defer { if source.fd != STDIN_FILENO { close(source.fd) } }
        let reader = LineReader(fd: source.fd, maxLineBytes: maxLineBytes)
        let sink = try OutputSink(path: output, buffered: true)
        let name = input == nil || input == "-" ? "stdin" : input!
        var lineNumber = 0
        var skipped = 0
        do {
            while let line = reader.next() {
                lineNumber += 1
                var problem: String? = nil
                var id: JSONValue? = nil
                switch line {
                case .tooLong(let seen):
                    problem = "the line is over the \(maxLineBytes)-byte limit (\(seen) bytes read before it was skipped; "
                        + "raise the limit with --max-line-bytes)"
                case .bytes(let bytes):
                    switch lines.process(bytes) {
                    case .success(let out): sink.write(out)
                    case .failure(let error):
                        problem = error.message
                        if !plain, let value = try? JSONValue.parse(bytes), case .object = value { id = value["id"] }
                    }
                }
                if let problem {
                    sink.flush()
                    printError("error: \(name) line \(lineNumber): \(problem)")
                    if onError == .stop { throw ExitCode(1) }
                    skipped += 1
                    // Like the other JSONL commands: one {"id","error"} line in place of the bad one.
                    sink.write(BadLine(line: lineNumber, id: id, message: problem).record + "\n")
                }
            }
            if let problem = reader.readError {
                sink.flush()
                printError("error: reading \(name) failed after line \(lineNumber): \(String(cString: strerror(problem)))")
                throw ExitCode(1)
            }
            try sink.commit()
        } catch {
            sink.abandon()
            throw error
        }
        if skipped > 0 { printError("skipped \(skipped) of \(lineNumber) lines (each replaced by an {\"id\",\"error\"} line)") }
    }

    private func runBenchmark(file: ModelFile, corpus: String, openSeconds: Double) throws {
        guard let stream = fopen(corpus, "rb") else {
            printError("error: cannot open \(corpus): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        var paragraphs: [[UInt8]] = []
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while true {
            let length = getline(&buffer, &capacity, stream)
            if length < 0 { break }
            var count = length
            if count > 0, buffer![count - 1] == 0x0A { count -= 1 }
            paragraphs.append(Array(UnsafeRawBufferPointer(start: buffer!, count: count)))
        }
        free(buffer)
        fclose(stream)
        let bytes = paragraphs.reduce(0) { $0 + $1.count }
        let settings = TokenizerSettings(metadata: file.metadata)
        var loads: [Double] = []
        var tokenizer: Tokenizer?
        for _ in 0..<5 {
            let start = monotonicSeconds()
            tokenizer = try Tokenizer(vocabulary: file.vocabulary, settings: settings)
            loads.append(monotonicSeconds() - start)
        }
        let t = tokenizer!
        var results: [String] = []
        for m in Mode.allCases {
            var best = Double.infinity
            var tokens = 0
            for _ in 0..<passes {
                var count = 0
                let start = monotonicSeconds()
                for p in paragraphs { count += t.encode(bytes: p, mode: m.tokenizerMode).count }
                best = min(best, monotonicSeconds() - start)
                tokens = count
            }
            results.append("\"\(m.rawValue)\": {\"tokens\": \(tokens), \"seconds\": \(best), \"tokens_per_second\": \(Double(tokens) / best), \"mb_per_second\": \(Double(bytes) / best / 1e6)}")
        }
        let loadMs = loads.min()! * 1000
        print("{\"corpus\": \"\(corpus)\", \"paragraphs\": \(paragraphs.count), \"bytes\": \(bytes), \"passes\": \(passes), "
              + "\"load_ms\": \(loadMs), \"load_ms_median\": \(loads.sorted()[2] * 1000), \"open_and_load_ms\": \(openSeconds * 1000), "
              + results.joined(separator: ", ") + "}")
    }
}
