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

        A bad input line (invalid JSON, no string "text") is reported on stderr with
        its line number; with --on-error stop (default) the command then exits 1, with
        --on-error skip it goes on. Every output line is complete JSON, whatever
        happens.

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

    @Option(help: "Read this file instead of standard input.")
    var input: String?

    @Flag(help: "Each input line is the text itself, not JSON.")
    var plain = false

    @Option(help: "pairrm (HF fast tokenizer, what PairRM uses) or sentencepiece.")
    var mode: Mode = .pairrm

    @Flag(help: "Leave the \"pieces\" array out of the output.")
    var noPieces = false

    @Option(help: "On a bad input line: stop (exit 1) or skip it (report and continue).")
    var onError: OnError = .stop

    @Option(help: ArgumentHelp("Time load and encoding of this corpus (one text per line) and print JSON.", valueName: "corpus"))
    var benchmark: String?

    @Option(help: "Timed passes over the corpus per mode (the best one counts).")
    var passes = 3

    func validate() throws {
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
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
            file = try ModelFile(path: path)
            tokenizer = try Tokenizer(vocabulary: file.vocabulary, settings: TokenizerSettings(metadata: file.metadata))
        } catch let error as FormatError {
            printError("error: \(error)")
            throw ExitCode(1)
        } catch let error as TokenizerError {
            printError("error: \(path): \(error)")
            throw ExitCode(1)
        }
        let openSeconds = monotonicSeconds() - openStart
        if let benchmark {
            try runBenchmark(file: file, corpus: benchmark, openSeconds: openSeconds)
            return
        }
        let lines = JSONLineTokenizer(tokenizer: tokenizer, mode: mode.tokenizerMode, includePieces: !noPieces, plain: plain)
        // Own FILE streams on fds 0/1 (the C globals are not concurrency-safe in Swift 6).
        guard let output = fdopen(STDOUT_FILENO, "wb") else {
            printError("error: cannot write to stdout")
            throw ExitCode(1)
        }
        guard let stream = input.map({ fopen($0, "rb") }) ?? fdopen(STDIN_FILENO, "rb") else {
            printError("error: cannot open \(input ?? "stdin"): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        defer { if input != nil { fclose(stream) } }
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        var lineNumber = 0
        var skipped = 0
        while true {
            let length = getline(&buffer, &capacity, stream)
            if length < 0 { break }
            lineNumber += 1
            var count = length
            if count > 0, buffer![count - 1] == 0x0A { count -= 1 }
            let line = UnsafeBufferPointer(start: UnsafeRawPointer(buffer!).assumingMemoryBound(to: UInt8.self), count: count)
            switch lines.process(Array(line)) {
            case .success(let out):
                var text = out
                text.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, output) }
            case .failure(let error):
                fflush(output)
                printError("error: \(input ?? "stdin") line \(lineNumber): \(error)")
                if onError == .stop { throw ExitCode(1) }
                skipped += 1
            }
        }
        if ferror(stream) != 0 {
            fflush(output)
            printError("error: reading \(input ?? "stdin") failed after line \(lineNumber): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        fflush(output)
        if skipped > 0 { printError("skipped \(skipped) of \(lineNumber) lines") }
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
