import Foundation
@testable import PairRMFormat
import XCTest
@testable import PairRMConverter
import PairRMSchema

/// Confused inputs (zip members sharing bytes, mistyped or absurd config values) and a hostile or
/// careless output path (planted temporaries, the input itself, a non-file, stale temporaries).
final class ConverterInputOutputTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoints").path
    var scratch: String = ""

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "pairrm-converter-io-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func fixture(_ name: String) -> String { Self.fixtures + "/" + name }

    func copy(_ name: String, as copyName: String? = nil) throws -> String {
        let destination = scratch + "/" + (copyName ?? name)
        try FileManager.default.copyItem(atPath: fixture(name), toPath: destination)
        return destination
    }

    @discardableResult
    func convert(_ directory: String, output: String) throws -> ConversionReport {
        try Converter.convert(directory: directory, output: output, options: ConversionOptions(weights: .f32))
    }

    /// Expects a refusal of `kind` whose field names `field`, with a fix, leaving no output behind.
    func assertRefused(_ kind: ConversionError.Kind, _ directory: String, field: String, output: String? = nil,
                       _ message: String = "", line: UInt = #line) {
        let output = output ?? scratch + "/bad.prm"
        do {
            try convert(directory, output: output)
            XCTFail("expected \(kind) naming \(field) \(message)", line: line)
        } catch let error as ConversionError {
            XCTAssertEqual(error.kind, kind, "\(error) \(message)", line: line)
            XCTAssertTrue(error.field.contains(field), "field of \(error) \(message)", line: line)
            XCTAssertFalse(error.file.isEmpty, line: line)
            XCTAssertFalse(error.fix.isEmpty, line: line)
        } catch {
            XCTFail("expected ConversionError, got \(error) \(message)", line: line)
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        XCTAssertFalse(leftovers.contains { $0.hasPrefix("bad.prm") }, "\(leftovers)", line: line)
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    // MARK: 10a. Zip central directory vs local headers

    /// Three storages of the same size pointed at one local header: before, the three tensors
    /// silently shared data/10's bytes.
    func testZipEntriesSharingOneLocalHeaderAreRefused() throws {
        let directory = try copy("tiny-bin")
        let path = directory + "/pytorch_model.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let entries = ZipEditor.centralEntries(bytes)
        let shared = try XCTUnwrap(entries.first { $0.name == "pytorch_model/data/10" })
        for name in ["pytorch_model/data/11", "pytorch_model/data/12"] {
            let entry = try XCTUnwrap(entries.first { $0.name == name })
            ZipEditor.put32(&bytes, entry.headerAt + 42, UInt32(shared.localOffset))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertRefused(.malformedTorchCheckpoint, directory, field: "local header")
        do {
            _ = try TorchCheckpoint(path: path)
            XCTFail("a confused archive opened")
        } catch let error as ConversionError {
            XCTAssertTrue(error.field.contains("pytorch_model/data/11"), "\(error)")
            XCTAssertTrue(error.problem.contains("pytorch_model/data/10"), "\(error)")
        }
    }

    /// A member whose local header sits inside another member's data, names matching: the
    /// members overlap, which no zip writer produces.
    func testOverlappingZipMembersAreRefused() throws {
        let inner = ZipEditor.localHeader("m/b", size: 8) + [UInt8](repeating: 7, count: 8)
        var archive = ZipEditor.localHeader("m/a", size: inner.count) + inner
        let centralOffset = archive.count
        var central = ZipEditor.centralHeader("m/a", size: inner.count, offset: 0)
        central += ZipEditor.centralHeader("m/b", size: 8, offset: 30 + 3)
        archive += central
        archive += ZipEditor.endRecord(count: 2, size: central.count, offset: centralOffset)
        let path = scratch + "/overlap.bin"
        try Data(archive).write(to: URL(fileURLWithPath: path))
        let mapping = try CheckpointMapping(path: path)
        XCTAssertThrowsError(try ZipArchive(mapping: mapping)) { error in
            let error = error as? ConversionError
            XCTAssertEqual(error?.kind, .malformedTorchCheckpoint)
            XCTAssertTrue(error?.problem.contains("overlaps") ?? false, "\(String(describing: error))")
            XCTAssertTrue(error?.field.contains("m/b") ?? false, "\(String(describing: error))")
        }
        // The same two members laid out one after the other open fine.
        var plain = ZipEditor.localHeader("m/a", size: 4) + [1, 2, 3, 4]
        let second = plain.count
        plain += ZipEditor.localHeader("m/b", size: 4) + [5, 6, 7, 8]
        let plainCentral = ZipEditor.centralHeader("m/a", size: 4, offset: 0) + ZipEditor.centralHeader("m/b", size: 4, offset: second)
        let plainOffset = plain.count
        plain += plainCentral + ZipEditor.endRecord(count: 2, size: plainCentral.count, offset: plainOffset)
        try Data(plain).write(to: URL(fileURLWithPath: scratch + "/plain.bin"))
        let archiveOK = try ZipArchive(mapping: try CheckpointMapping(path: scratch + "/plain.bin"))
        XCTAssertEqual(archiveOK.entries.map(\.name), ["m/a", "m/b"])
    }

    // MARK: 10b. Config values of the wrong type

    func testConfigValuesOfTheWrongTypeAreRefusedByName() throws {
        let cases: [(String, Any)] = [
            ("layer_norm_eps", [Any]()), ("hidden_size", NSNull()), ("layer_norm_eps", NSNull()),
            ("max_position_embeddings", "512"), ("num_attention_heads", true), ("share_att_key", 1),
            ("relative_attention", "true"), ("hidden_act", NSNull()), ("pos_att_type", [1, 2]),
            ("position_buckets", [256]), ("type_vocab_size", NSNull()), ("pad_token_id", "0"),
            ("max_relative_positions", ["x": 1]),
        ]
        for (index, (key, value)) in cases.enumerated() {
            let directory = try copy("tiny-pairrm-hf", as: "typed-\(index)")
            try editJSON(directory + "/config.json") { $0[key] = value }
            assertRefused(.malformedJSON, directory, field: key, "(\(key) = \(value))")
        }
        // The RankerConfig form too.
        let ranker = try copy("tiny-pairrm", as: "typed-ranker")
        try editJSON(ranker + "/config.json") { $0["source_maxlength"] = NSNull() }
        assertRefused(.malformedJSON, ranker, field: "source_maxlength")
    }

    // MARK: 10c. Absurd config values

    func testAbsurdConfigValuesAreRefusedByName() throws {
        // Written as raw JSON text: 2^64, NaN and Infinity cannot come out of JSONSerialization.
        let cases: [(key: String, value: String, kind: ConversionError.Kind)] = [
            ("max_position_embeddings", "1e12", .unsupportedConfig), ("max_position_embeddings", "-1", .unsupportedConfig),
            ("max_position_embeddings", "18446744073709551616", .malformedJSON), ("max_position_embeddings", "32.5", .malformedJSON),
            ("max_position_embeddings", "100", .configMismatch),  // fewer positions than the 256 buckets
            ("type_vocab_size", "-1", .unsupportedConfig), ("type_vocab_size", "2", .unsupportedConfig),
            ("type_vocab_size", "1e12", .unsupportedConfig), ("type_vocab_size", "32.5", .malformedJSON),
            ("pad_token_id", "-1", .unsupportedConfig), ("pad_token_id", "1e12", .configMismatch),
            ("pad_token_id", "1005", .configMismatch), ("pad_token_id", "18446744073709551616", .malformedJSON),
            ("pad_token_id", "32.5", .malformedJSON),
            ("max_relative_positions", "1e12", .unsupportedConfig), ("max_relative_positions", "18446744073709551616", .malformedJSON),
            ("max_relative_positions", "32.5", .malformedJSON), ("max_relative_positions", "100", .configMismatch),
            ("layer_norm_eps", "NaN", .malformedJSON), ("layer_norm_eps", "Infinity", .malformedJSON),
            ("layer_norm_eps", "-Infinity", .malformedJSON), ("layer_norm_eps", "-1e-07", .unsupportedConfig),
            ("layer_norm_eps", "0", .unsupportedConfig), ("layer_norm_eps", "-1e-400", .unsupportedConfig),
            ("layer_norm_eps", "1e12", .unsupportedConfig), ("layer_norm_eps", "1e-45", .unsupportedConfig),
            ("position_buckets", "1e12", .unsupportedConfig), ("num_attention_heads", "-4", .unsupportedConfig),
        ]
        for (index, item) in cases.enumerated() {
            let directory = try copy("tiny-pairrm-hf", as: "absurd-\(index)")
            try replaceJSONValue(directory + "/config.json", key: item.key, with: item.value)
            assertRefused(item.kind, directory, field: item.key, "(\(item.key) = \(item.value))")
        }
        // Sane values other than the fixture's still convert, and are what the file records.
        let directory = try copy("tiny-pairrm-hf", as: "sane")
        try replaceJSONValue(directory + "/config.json", key: "layer_norm_eps", with: "1e-05")
        try replaceJSONValue(directory + "/config.json", key: "max_relative_positions", with: "1024")
        try convert(directory, output: scratch + "/sane.prm")
        let file = try ModelFile(path: scratch + "/sane.prm")
        XCTAssertEqual(file.metadata.double(MetadataKey.modelLayerNormEps), 1e-5)
        XCTAssertEqual(file.metadata.int(MetadataKey.modelMaxRelativePositions), 1024)
    }

    // MARK: 11. The temporary file

    func testPlantedSymlinkAtTheTemporaryNameIsNeverFollowed() throws {
        let victim = scratch + "/victim.txt"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        let output = scratch + "/out.prm"
        let planted = output + ".tmp.\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        try convert(fixture("tiny-pairrm-hf"), output: output)
        XCTAssertEqual(contents(victim), Data("precious".utf8), "the symlink's target was written through")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: planted), victim, "someone else's link is left alone")
        XCTAssertEqual(try ModelFile(path: output).verifyAll(), [])
        // Nothing of ours is left: only the planted link remains beside the output.
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("out.prm") }.sorted()
        XCTAssertEqual(names, ["out.prm", "out.prm.tmp.\(getpid())"])
    }

    func testPlantedFileAtTheTemporaryNameIsNotTruncated() throws {
        let output = scratch + "/out.prm"
        let planted = output + ".tmp.\(getpid())"
        try Data("not yours".utf8).write(to: URL(fileURLWithPath: planted))
        try convert(fixture("tiny-pairrm-hf"), output: output)
        XCTAssertEqual(contents(planted), Data("not yours".utf8))
        XCTAssertEqual(try ModelFile(path: output).verifyAll(), [])
    }

    // MARK: 12. The output path

    func testOutputThatIsOneOfTheInputsIsRefused() throws {
        let directory = try copy("tiny-pairrm-hf")
        let weights = directory + "/model.safetensors"
        let original = contents(weights)
        assertRefused(.outputFailed, directory, field: "output", output: weights)
        XCTAssertEqual(contents(weights), original, "the weights being read were replaced")
        // Through a symlink, a hard link and a path spelled differently.
        let link = scratch + "/link.prm"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: weights)
        assertRefused(.outputFailed, directory, field: "output", output: link)
        XCTAssertEqual(contents(weights), original)
        let hard = scratch + "/hard.prm"
        try FileManager.default.linkItem(atPath: directory + "/config.json", toPath: hard)
        let config = contents(hard)
        assertRefused(.outputFailed, directory, field: "output", output: hard)
        XCTAssertEqual(contents(directory + "/config.json"), config)
        assertRefused(.outputFailed, directory, field: "output", output: directory + "/./spm.model")
        // The PyTorch weights file as well.
        let bin = try copy("tiny-bin")
        let binOriginal = contents(bin + "/pytorch_model.bin")
        assertRefused(.outputFailed, bin, field: "output", output: bin + "/pytorch_model.bin")
        XCTAssertEqual(contents(bin + "/pytorch_model.bin"), binOriginal)
    }

    func testOutputThatExistsAndIsNotARegularFileIsRefused() throws {
        let fifo = scratch + "/fifo.prm"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        assertRefused(.outputFailed, fixture("tiny-pairrm-hf"), field: "output", output: fifo)
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the FIFO was replaced by a regular file")

        let directory = scratch + "/dir.prm"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        assertRefused(.outputFailed, fixture("tiny-pairrm-hf"), field: "output", output: directory)

        // A device node, reached through a link in the scratch directory (never touching /dev itself).
        let device = scratch + "/null.prm"
        try FileManager.default.createSymbolicLink(atPath: device, withDestinationPath: "/dev/null")
        assertRefused(.outputFailed, fixture("tiny-pairrm-hf"), field: "output", output: device)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: device), "/dev/null")

        // The writer itself refuses too (other callers of ContainerWriter).
        XCTAssertThrowsError(try ContainerWriter(path: fifo)) { error in
            XCTAssertEqual((error as? FormatError)?.field, "output")
        }
    }

    func testReplacingAnExistingPrmStaysAtomic() throws {
        let output = scratch + "/model.prm"
        try convert(fixture("tiny-pairrm-hf"), output: output)
        let first = try XCTUnwrap(contents(output))
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: output))
        defer { try? handle.close() }
        var before = stat()
        XCTAssertEqual(stat(output, &before), 0)
        _ = try Converter.convert(directory: fixture("tiny-pairrm-hf"), output: output, options: ConversionOptions(weights: .f16))
        var after = stat()
        XCTAssertEqual(stat(output, &after), 0)
        XCTAssertNotEqual(before.st_ino, after.st_ino, "replaced by rename, not rewritten in place")
        XCTAssertEqual(handle.readDataToEndOfFile(), first, "a reader of the old file keeps seeing it whole")
        XCTAssertEqual(try ModelFile(path: output).metadata.string(MetadataKey.generalWeights), "f16")
    }

    // MARK: 13. Stale temporaries

    func testStaleTemporariesOfKilledConversionsAreRemoved() throws {
        let output = scratch + "/out.prm"
        let impossible = [output + ".tmp.2147483646", output + ".tmp.99999999999", output + ".tmp.4194305.3"]
        for path in impossible { try Data("left by SIGKILL".utf8).write(to: URL(fileURLWithPath: path)) }
        let live = output + ".tmp.\(getppid())"                  // a live process's temporary
        let otherOutput = scratch + "/other.prm.tmp.2147483646"  // another output's
        let notATemporary = output + ".tmp.2147483646x"
        for path in [live, otherOutput, notATemporary] { try Data("keep".utf8).write(to: URL(fileURLWithPath: path)) }
        let victim = scratch + "/victim.txt"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        let staleLink = output + ".tmp.2147483645"                // not a regular file: left alone
        try FileManager.default.createSymbolicLink(atPath: staleLink, withDestinationPath: victim)

        try convert(fixture("tiny-pairrm-hf"), output: output)
        for path in impossible { XCTAssertFalse(FileManager.default.fileExists(atPath: path), path) }
        for path in [live, otherOutput, notATemporary] { XCTAssertEqual(contents(path), Data("keep".utf8), path) }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: staleLink), victim)
        XCTAssertEqual(contents(victim), Data("precious".utf8))
        XCTAssertEqual(try ModelFile(path: output).verifyAll(), [])
    }

    func testTemporaryNameParsing() {
        XCTAssertEqual(TemporaryFiles.temporaryPID("a.prm.tmp.123", destinationName: "a.prm"), 123)
        XCTAssertEqual(TemporaryFiles.temporaryPID("a.prm.tmp.123.4", destinationName: "a.prm"), 123)
        XCTAssertEqual(TemporaryFiles.temporaryPID("a.prm.tmp.123456789012345678901234", destinationName: "a.prm"), Int.max)
        for name in ["a.prm", "a.prm.tmp.", "a.prm.tmp.12x", "a.prm.tmp.1.2.3", "a.prm.tmp..1", "b.prm.tmp.1", "a.prm.tmp.١٢"] {
            XCTAssertNil(TemporaryFiles.temporaryPID(name, destinationName: "a.prm"), name)
        }
    }

    // MARK: Helpers

    func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    /// Replaces the value of a top-level scalar key in the fixture's pretty-printed JSON text.
    func replaceJSONValue(_ path: String, key: String, with raw: String, line: UInt = #line) throws {
        var lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        let prefix = "  \"\(key)\": "
        let index = try XCTUnwrap(lines.firstIndex { $0.hasPrefix(prefix) }, "no \(key) in \(path)", line: line)
        lines[index] = prefix + raw + (lines[index].hasSuffix(",") ? "," : "")
        try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
    }
}

/// Minimal ZIP reading and writing for building confused archives.
enum ZipEditor {
    struct CentralEntry {
        var name: String
        var headerAt: Int
        var localOffset: Int
    }

    static func u16(_ bytes: [UInt8], _ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    static func u32(_ bytes: [UInt8], _ at: Int) -> Int { u16(bytes, at) | u16(bytes, at + 2) << 16 }
    static func u64(_ bytes: [UInt8], _ at: Int) -> Int { u32(bytes, at) | u32(bytes, at + 4) << 32 }
    static func put32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    /// The central directory (classic or zip64 end records), entries with 32-bit offsets.
    static func centralEntries(_ bytes: [UInt8]) -> [CentralEntry] {
        var eocd = bytes.count - 22
        while eocd > 0, u32(bytes, eocd) != 0x0605_4B50 { eocd -= 1 }
        var count = u16(bytes, eocd + 10), offset = u32(bytes, eocd + 16)
        if eocd >= 20, u32(bytes, eocd - 20) == 0x0706_4B50 {
            let record = u64(bytes, eocd - 20 + 8)
            count = u64(bytes, record + 32)
            offset = u64(bytes, record + 48)
        }
        var entries: [CentralEntry] = []
        var cursor = offset
        for _ in 0..<count {
            let nameLength = u16(bytes, cursor + 28), extra = u16(bytes, cursor + 30), comment = u16(bytes, cursor + 32)
            let name = String(decoding: bytes[(cursor + 46)..<(cursor + 46 + nameLength)], as: UTF8.self)
            entries.append(CentralEntry(name: name, headerAt: cursor, localOffset: u32(bytes, cursor + 42)))
            cursor += 46 + nameLength + extra + comment
        }
        return entries
    }

    private static func le(_ value: Int, _ width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func localHeader(_ name: String, size: Int) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        return le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
            + le(size, 4) + le(size, 4) + le(nameBytes.count, 2) + le(0, 2) + nameBytes
    }

    static func centralHeader(_ name: String, size: Int, offset: Int) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        return le(0x0201_4B50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
            + le(size, 4) + le(size, 4) + le(nameBytes.count, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
            + le(offset, 4) + nameBytes
    }

    static func endRecord(count: Int, size: Int, offset: Int) -> [UInt8] {
        le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(count, 2) + le(count, 2) + le(size, 4) + le(offset, 4) + le(0, 2)
    }
}
