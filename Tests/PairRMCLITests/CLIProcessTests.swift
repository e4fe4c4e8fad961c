import Foundation
import PairRMConverter
import PairRMFormat
import PairRMTestSupport
import XCTest
import PairRMSchema

/// Runs the built `pairrm` binary as a process on the tiny converted model: exit codes, stderr
/// messages and output files, as a user sees them.
final class CLIProcessTests: XCTestCase {
    struct Outcome {
        var status: Int32
        var crashed: Bool
        var stdout: String
        var stderr: String
        var seconds: Double
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    static let scratch = TestPaths.scratch("cli-tests")

    var model: String { get throws { try ConvertedFixtures.model(.f32) } }

    func temporaryFile(_ name: String, _ contents: Data) throws -> String {
        let path = Self.scratch + "/" + name
        try contents.write(to: URL(fileURLWithPath: path))
        return path
    }

    func temporaryFile(_ name: String, _ text: String) throws -> String { try temporaryFile(name, Data(text.utf8)) }

    /// Runs `pairrm arguments` with `stdin` as its standard input (empty when nil); fails the
    /// test (and kills the process) after `timeout` seconds.
    func pairrm(_ arguments: [String], stdin: Data? = nil, timeout: Double = 120, launcher: [String] = [],
                file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let binary = Bundle.main.bundleURL.appendingPathComponent("pairrm").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("pairrm is not built next to the tests (\(binary))") }
        let id = UUID().uuidString
        let outPath = Self.scratch + "/out-\(id)", errPath = Self.scratch + "/err-\(id)", inPath = Self.scratch + "/in-\(id)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        _ = FileManager.default.createFile(atPath: inPath, contents: stdin ?? Data())
        defer { for path in [outPath, errPath, inPath] { try? FileManager.default.removeItem(atPath: path) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.first ?? binary)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [binary] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment["PAIRRM_MODEL"] = nil
        process.environment = environment
        process.standardInput = FileHandle(forReadingAtPath: inPath)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        let started = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(started) > timeout {
                process.terminate()
                XCTFail("pairrm \(arguments.joined(separator: " ")) did not finish in \(timeout) s", file: file, line: line)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal,
                       stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
                       seconds: Date().timeIntervalSince(started))
    }

    func json(_ line: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
    }

    // MARK: 1. inspect --json with non-finite metadata

    func testInspectJSONWritesNonFiniteMetadataAsStrings() throws {
        let path = Self.scratch + "/nonfinite.prm"
        let writer = try ContainerWriter(path: path)
        let plan = TensorPlan(name: "norm.weight", dtype: .f32, shape: [4])
        try writer.beginTensors([plan])
        let weights: [Float] = [1, 2, 3, 4]
        try weights.withUnsafeBytes { try writer.writeTensor(named: plan.name, bytes: $0) }
        var metadata = Metadata()
        metadata["general.architecture"] = .string("tiny")
        metadata[MetadataKey.modelLayerNormEps] = .double(.nan)
        metadata[MetadataKey.quantizationOutlierRatio] = .double(.infinity)
        metadata["test.negative"] = .array([.double(-.infinity), .double(1.5)])
        try writer.finish(vocabulary: VocabularyContents(pieces: [Array("[PAD]".utf8)], scores: [0], types: [.control], charsmap: [],
                                                         addedTokens: []),
                          metadata: metadata)

        let run = try pairrm(["inspect", path, "--json"])
        XCTAssertFalse(run.crashed, run.stderr)
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try json(run.stdout)
        let values = try XCTUnwrap(object["metadata"] as? [String: Any])
        XCTAssertEqual(values[MetadataKey.modelLayerNormEps] as? String, "NaN")
        XCTAssertEqual(values[MetadataKey.quantizationOutlierRatio] as? String, "Infinity")
        XCTAssertEqual((values["test.negative"] as? [Any])?.first as? String, "-Infinity")
        XCTAssertEqual(((values["test.negative"] as? [Any])?.last as? NSNumber)?.doubleValue, 1.5)
        XCTAssertEqual(Set(object["non_finite_metadata"] as? [String] ?? []),
                       [MetadataKey.modelLayerNormEps, MetadataKey.quantizationOutlierRatio, "test.negative"])
        // The text form prints them too.
        let text = try pairrm(["inspect", path])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains(MetadataKey.modelLayerNormEps), text.stdout)
    }

    // MARK: 3. caps on --threads and candidates

    func testThreadAndCandidateCaps() throws {
        let model = try model
        let pair = Data(#"{"prompt":"hi","a":"hello","b":"go"}"#.utf8)
        for bad in ["100000", "0", "-1"] {
            let run = try pairrm(["compare", "--model", model, "--threads", bad], stdin: pair)
            XCTAssertEqual(run.status, 64, "--threads \(bad): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("--threads must be ≥ 1 and ≤ 1024, or auto"), run.stderr)
            XCTAssertFalse(run.stderr.contains("Missing value"), run.stderr)
        }
        let auto = try pairrm(["compare", "--model", model, "--threads", "auto"], stdin: pair)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertEqual(auto.lines.count, 1)
        // auto = the CPUs the process may use (its affinity mask), not the machine's count.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") {
            let pinned = try pairrm(["bench", "--model", model, "--threads", "auto", "--iterations", "1", "--warmup", "0", "--no-verify"],
                                    launcher: ["/usr/bin/taskset", "-c", "0"])
            XCTAssertEqual(pinned.status, 0, pinned.stderr)
            XCTAssertTrue(pinned.stdout.contains("threads 1\n"), pinned.stdout)
        }

        let many = #"{"id":"big","prompt":"p","candidates":["#
            + (0..<1025).map { "\"c\($0)\"" }.joined(separator: ",") + "]}\n"
            + #"{"id":"small","prompt":"p","candidates":["x","y"]}"# + "\n"
        for command in [["rank"], ["best-of-n", "--strategy", "full"]] {
            let run = try pairrm(command + ["--model", model, "--on-error", "skip"], stdin: Data(many.utf8), timeout: 60)
            XCTAssertFalse(run.crashed, run.stderr)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.lines.count, 2, run.stdout)
            let first = try json(run.lines[0])
            XCTAssertEqual(first["id"] as? String, "big")
            XCTAssertTrue((first["error"] as? String ?? "").contains("1025 candidates"), run.lines[0])
            XCTAssertTrue((first["error"] as? String ?? "").contains("at most 1024"), run.lines[0])
            XCTAssertNil(try json(run.lines[1])["error"])
            XCTAssertTrue(run.stderr.contains("line 1:"), run.stderr)
        }
        let help = try pairrm(["rank", "--help"])
        XCTAssertTrue(help.stdout.contains("1024 candidates"), help.stdout)
    }

    // MARK: 7. long lines

    func testOverLongLinesAreSkippedWithoutBuffering() throws {
        let model = try model
        let zero = try pairrm(["compare", "--model", model, "--input", "/dev/zero", "--max-line-bytes", "100000"], timeout: 30)
        XCTAssertEqual(zero.status, 1, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("line 1: the line is over the 100000-byte limit"), zero.stderr)
        XCTAssertLessThan(zero.seconds, 20)

        // A 30 MB line between two good lines, limit 1 MB: skipped, the next line still runs.
        var input = Data(#"{"id":1,"prompt":"hi","a":"hello","b":"go"}"#.utf8 + [0x0A])
        input.append(Data(#"{"id":2,"prompt":""#.utf8))
        input.append(Data(repeating: UInt8(ascii: "x"), count: 30 << 20))
        input.append(Data(#"","a":"a","b":"b"}"#.utf8 + [0x0A]))
        input.append(Data(#"{"id":3,"prompt":"hi","a":"hello","b":"go"}"#.utf8 + [0x0A]))
        let path = try temporaryFile("long.jsonl", input)
        let run = try pairrm(["compare", "--model", model, "--input", path, "--max-line-bytes", "1000000", "--on-error", "skip"], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.lines.count, 3, run.stdout)
        XCTAssertEqual(try json(run.lines[0])["id"] as? Int, 1)
        XCTAssertTrue((try json(run.lines[1])["error"] as? String ?? "").contains("line 2: the line is over the 1000000-byte limit"), run.lines[1])
        XCTAssertNotNil(try json(run.lines[2])["logit"])
        XCTAssertLessThan(run.seconds, 30)

        // A long line under the limit is read in linear time (the old reader rescanned the
        // buffered line after every 64 KiB: quadratic, 97 s for 200 MB).
        var huge = Data(repeating: UInt8(ascii: "x"), count: 120 << 20)
        huge.append(0x0A)
        let hugePath = try temporaryFile("huge.jsonl", huge)
        defer { try? FileManager.default.removeItem(atPath: hugePath) }
        let linear = try pairrm(["compare", "--model", model, "--input", hugePath, "--max-line-bytes", String(200 << 20), "--no-verify"],
                                timeout: 60)
        XCTAssertEqual(linear.status, 1, linear.stderr)
        XCTAssertTrue(linear.stderr.contains("line 1: invalid JSON"), linear.stderr)
        XCTAssertLessThan(linear.seconds, 15)
    }

    // MARK: 14. directory input, byte-order mark, tokenize --on-error skip

    func testDirectoryInputByteOrderMarkAndTokenizeSkip() throws {
        let model = try model
        let directory = try pairrm(["compare", "--model", model, "--input", Self.scratch])
        XCTAssertEqual(directory.status, 1, directory.stderr)
        XCTAssertTrue(directory.stderr.contains("is a directory"), directory.stderr)
        let tokenizeDirectory = try pairrm(["tokenize", "--model", model, "--input", Self.scratch])
        XCTAssertEqual(tokenizeDirectory.status, 1, tokenizeDirectory.stderr)

        var bom = Data([0xEF, 0xBB, 0xBF])
        bom.append(Data(#"{"id":"b","prompt":"hi","a":"hello","b":"go"}"#.utf8))
        let withBOM = try pairrm(["compare", "--model", model], stdin: bom)
        XCTAssertEqual(withBOM.status, 0, withBOM.stderr)
        XCTAssertEqual(try json(withBOM.lines.first ?? "")["id"] as? String, "b")

        let tokenize = try pairrm(["tokenize", "--model", model, "--on-error", "skip"],
                                  stdin: Data("{\"id\":1,\"text\":\"hello\"}\nnot json\n{\"id\":3}\n{\"id\":4,\"text\":\"world\"}\n".utf8))
        XCTAssertEqual(tokenize.status, 0, tokenize.stderr)
        XCTAssertEqual(tokenize.lines.count, 4, tokenize.stdout)
        XCTAssertTrue((try json(tokenize.lines[1])["error"] as? String ?? "").hasPrefix("line 2:"), tokenize.lines[1])
        let third = try json(tokenize.lines[2])
        XCTAssertEqual(third["id"] as? Int, 3)
        XCTAssertTrue((third["error"] as? String ?? "").hasPrefix("line 3:"), tokenize.lines[2])
        XCTAssertEqual(try json(tokenize.lines[3])["id"] as? Int, 4)
    }

    // MARK: 15. exit codes

    func testModelAndInputErrorsExitOneWithoutUsage() throws {
        let garbage = try temporaryFile("garbage.prm", "this is not a model\n")
        for command in [["compare"], ["rank"], ["bench"], ["tokenize"]] {
            let run = try pairrm(command + ["--model", garbage], stdin: Data(#"{"prompt":"hi","a":"x","b":"y"}"#.utf8))
            XCTAssertEqual(run.status, 1, "\(command): \(run.stderr)")
            XCTAssertTrue(run.stderr.hasPrefix("error: "), run.stderr)
            XCTAssertFalse(run.stderr.contains("Usage:"), run.stderr)
        }
        let missing = try pairrm(["compare", "--model", Self.scratch + "/missing.prm"])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertFalse(missing.stderr.contains("Usage:"), missing.stderr)
        let noInput = try pairrm(["compare", "--model", try model, "--input", Self.scratch + "/missing.jsonl"])
        XCTAssertEqual(noInput.status, 1, noInput.stderr)
        XCTAssertFalse(noInput.stderr.contains("Usage:"), noInput.stderr)
        let negative = try pairrm(["rank", "--model", try model, "--threads", "-1"])
        XCTAssertEqual(negative.status, 64, negative.stderr)
        XCTAssertTrue(negative.stderr.contains("must be ≥ 1"), negative.stderr)
    }

    // MARK: 16. messages name CLI flags

    func testErrorsNameCommandLineFlags() throws {
        let model = try model
        let budget = try pairrm(["compare", "--model", model, "--source-max-length", "2"], stdin: Data(#"{"prompt":"hi","a":"x","b":"y"}"#.utf8))
        XCTAssertEqual(budget.status, 64, budget.stderr)
        XCTAssertTrue(budget.stderr.contains("--source-max-length"), budget.stderr)
        XCTAssertFalse(budget.stderr.contains("sourceMaxLength"), budget.stderr)
        let sum = try pairrm(["compare", "--model", model, "--source-max-length", "2000", "--candidate-max-length", "412"],
                             stdin: Data(#"{"prompt":"hi","a":"x","b":"y"}"#.utf8))
        XCTAssertEqual(sum.status, 64, sum.stderr)
        XCTAssertTrue(sum.stderr.contains("--source-max-length"), sum.stderr)
        XCTAssertFalse(sum.stderr.contains("sourceMaxLength") || sum.stderr.contains("candidateMaxLength"), sum.stderr)
        XCTAssertFalse(sum.stderr.contains("Usage: pairrm <subcommand>"), sum.stderr)

        let long = (0..<200).map { "word\($0)" }.joined(separator: " ")
        let tooLong = try pairrm(["compare", "--model", model, "--truncation", "error", "--source-max-length", "16", "--candidate-max-length", "16"],
                                 stdin: Data(#"{"prompt":"\#(long)","a":"x","b":"y"}"#.utf8))
        XCTAssertEqual(tooLong.status, 1, tooLong.stderr)
        XCTAssertTrue(tooLong.stderr.contains("line 1:"), tooLong.stderr)
        XCTAssertTrue(tooLong.stderr.contains("--source-max-length"), tooLong.stderr)
        XCTAssertFalse(tooLong.stderr.contains("sourceMaxLength"), tooLong.stderr)

        let order = try pairrm(["best-of-n", "--model", model, "--start-order", "0,0,1"], stdin: Data(#"{"prompt":"p","candidates":["a","b","c"]}"#.utf8))
        XCTAssertEqual(order.status, 64, order.stderr)
        XCTAssertTrue(order.stderr.contains("--start-order"), order.stderr)
        XCTAssertFalse(order.stderr.contains("startOrder"), order.stderr)
        XCTAssertFalse(order.stderr.contains("nil"), order.stderr)
    }

    // MARK: 17. --input - and --output FILE

    func testStandardInputDashAndAtomicOutput() throws {
        let model = try model
        let good = Data("{\"id\":1,\"prompt\":\"hi\",\"a\":\"hello\",\"b\":\"go\"}\n{\"id\":2,\"prompt\":\"hi\",\"a\":\"go\",\"b\":\"hello\"}\n".utf8)
        let dash = try pairrm(["compare", "--model", model, "--input", "-"], stdin: good)
        XCTAssertEqual(dash.status, 0, dash.stderr)
        XCTAssertEqual(dash.lines.count, 2, dash.stdout)

        let folder = Self.scratch + "/output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let target = folder + "/verdicts.jsonl"
        let written = try pairrm(["compare", "--model", model, "--output", target], stdin: good)
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(written.stdout, "")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), dash.stdout)

        // A failing run leaves the existing file as it was, and no temporary file behind.
        try Data("previous\n".utf8).write(to: URL(fileURLWithPath: target))
        var bad = good
        bad.append(Data("not json\n".utf8))
        let failed = try pairrm(["compare", "--model", model, "--output", target], stdin: bad)
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "previous\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["verdicts.jsonl"])

        let tokens = try pairrm(["tokenize", "--model", model, "--input", "-", "--output", folder + "/ids.jsonl"],
                                stdin: Data("{\"text\":\"hello\"}\n".utf8))
        XCTAssertEqual(tokens.status, 0, tokens.stderr)
        XCTAssertTrue(try String(contentsOfFile: folder + "/ids.jsonl", encoding: .utf8).contains("\"ids\""))
    }

    // MARK: 18. best-of-n is repeatable

    func testBestOfNIsRepeatableAndStartOrderIsCheckedPerLine() throws {
        let model = try model
        let input = (0..<6).map { line in
            #"{"id":\#(line),"prompt":"question \#(line)","candidates":["#
                + (0..<7).map { "\"answer \($0 * 7 + line) of the set\"" }.joined(separator: ",") + "]}"
        }.joined(separator: "\n") + "\n"
        let first = try pairrm(["best-of-n", "--model", model, "--all"], stdin: Data(input.utf8))
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.lines.count, 6)
        for _ in 0..<2 {
            let again = try pairrm(["best-of-n", "--model", model, "--all", "--batch-size", "3"], stdin: Data(input.utf8))
            XCTAssertEqual(again.stdout, first.stdout, "best-of-n with the default seed must be repeatable")
        }
        let seeded = try pairrm(["best-of-n", "--model", model, "--all", "--seed", "12345"], stdin: Data(input.utf8))
        let seededAgain = try pairrm(["best-of-n", "--model", model, "--all", "--seed", "12345"], stdin: Data(input.utf8))
        XCTAssertEqual(seeded.status, 0, seeded.stderr)
        XCTAssertEqual(seeded.stdout, seededAgain.stdout)

        let mismatch = try pairrm(["best-of-n", "--model", model, "--start-order", "2,0,1", "--on-error", "skip"],
                                  stdin: Data("{\"prompt\":\"p\",\"candidates\":[\"a\",\"b\",\"c\"]}\n{\"prompt\":\"p\",\"candidates\":[\"a\",\"b\"]}\n".utf8))
        XCTAssertEqual(mismatch.status, 0, mismatch.stderr)
        XCTAssertEqual(mismatch.lines.count, 2)
        XCTAssertNotNil(try json(mismatch.lines[0])["best"])
        let error = try json(mismatch.lines[1])["error"] as? String ?? ""
        XCTAssertTrue(error.contains("line 2: the line has 2 candidates but --start-order lists 3"), error)
        let help = try pairrm(["best-of-n", "--help"])
        XCTAssertTrue(help.stdout.contains("--seed"), help.stdout)
    }

    // MARK: 19. reference without --reference-mode, chat roles, negative zero

    func testReferenceFieldRolesAndNegativeZero() throws {
        let model = try model
        let withReference = try pairrm(["rank", "--model", model],
                                       stdin: Data(#"{"id":"r","prompt":"p","candidates":["a","b"],"reference":"a"}"#.utf8))
        XCTAssertEqual(withReference.status, 1, withReference.stderr)
        XCTAssertTrue(withReference.stderr.contains("--reference-mode"), withReference.stderr)
        let used = try pairrm(["rank", "--model", model, "--reference-mode", "longest"],
                              stdin: Data(#"{"id":"r","prompt":"p","candidates":["a","bb"],"reference":"zz"}"#.utf8))
        XCTAssertEqual(used.status, 0, used.stderr)
        XCTAssertEqual(try json(used.lines.first ?? "")["reference"] as? String, "zz")

        let chat = #"{"id":1,"a":[{"role":"user","content":"hello"},{"role":"Assistant","content":"hi"}],"#
            + #""b":[{"role":"USER","content":"hello"},{"role":"assistant","content":"go away"}]}"#
        let roles = try pairrm(["compare-conversations", "--model", model], stdin: Data(chat.utf8))
        XCTAssertEqual(roles.status, 0, roles.stderr)
        XCTAssertNotNil(try json(roles.lines.first ?? "")["logit"])

        // rank_with_ref: the reference scores −compare(ref, ref) = −0.0 in the library.
        let zero = try pairrm(["rank", "--model", model, "--reference-mode", "first"],
                              stdin: Data(#"{"id":-0.0,"prompt":"p","candidates":["a","bb","ccc"]}"#.utf8))
        XCTAssertEqual(zero.status, 0, zero.stderr)
        let results = zero.stdout.replacingOccurrences(of: #""id":-0.0"#, with: "")
        XCTAssertFalse(results.contains("-0.0,") || results.contains("-0.0]") || results.contains("-0,"), zero.stdout)
        XCTAssertTrue(zero.stdout.contains(#""scores":[0.0,"#), zero.stdout)
        XCTAssertTrue(zero.stdout.hasPrefix(#"{"id":-0.0,"#), zero.stdout)
    }

    // MARK: load flags

    func testTensorChecksumsAreVerifiedUnlessNoVerify() throws {
        let original = try model
        let corrupt = Self.scratch + "/corrupt.prm"
        try? FileManager.default.removeItem(atPath: corrupt)
        try FileManager.default.copyItem(atPath: original, toPath: corrupt)
        let file = try ModelFile(path: original)
        let tensor = try XCTUnwrap(file.tensors.max { $0.size < $1.size })
        let position = Int(file.section(.tensorData).offset) + tensor.offset + tensor.size / 2
        var bytes = try Data(contentsOf: URL(fileURLWithPath: corrupt))
        bytes[position] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: corrupt))

        let pair = Data(#"{"prompt":"hi","a":"hello","b":"go"}"#.utf8)
        let checked = try pairrm(["compare", "--model", corrupt], stdin: pair)
        XCTAssertEqual(checked.status, 1, checked.stderr)
        XCTAssertTrue(checked.stderr.hasPrefix("error: "), checked.stderr)
        XCTAssertFalse(checked.stderr.contains("Usage:"), checked.stderr)
        let unchecked = try pairrm(["compare", "--model", corrupt, "--no-verify"], stdin: pair)
        XCTAssertEqual(unchecked.status, 0, unchecked.stderr)

        let mapped = try pairrm(["compare", "--model", original], stdin: pair)
        let read = try pairrm(["compare", "--model", original, "--no-mmap", "--no-verify"], stdin: pair)
        XCTAssertEqual(mapped.status, 0, mapped.stderr)
        XCTAssertEqual(read.stdout, mapped.stdout)
        let bench = try pairrm(["bench", "--model", original, "--no-mmap", "--iterations", "1", "--warmup", "0", "--threads", "auto"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
    }
}
