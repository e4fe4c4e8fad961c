import Foundation
import XCTest
@testable import PairRMConverter

final class TorchCheckpointTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory = nil
    }

    // MARK: - The torch 2.x fixture (see Tests/Fixtures/torch/README.md)

    static let fixturePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/torch/tiny_state_dict.bin").path

    func testReadsTheTorchFixture() throws {
        let checkpoint = try TorchCheckpoint(path: Self.fixturePath)
        XCTAssertEqual(checkpoint.path, Self.fixturePath)
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["layer.weight", "layer.half", "layer.bf16", "base", "view", "scalar", "param"])
        XCTAssertEqual(checkpoint.tensors.map(\.dtype), [.f32, .f16, .bf16, .f32, .f32, .f32, .f32])
        XCTAssertEqual(checkpoint.tensors.map(\.shape), [[2, 3], [4], [3], [10], [4], [], [2]])
        XCTAssertEqual(checkpoint.tensors.map(\.byteCount), [24, 8, 6, 40, 16, 4, 8])

        let weight = try read(checkpoint, "layer.weight")
        XCTAssertEqual(Array(weight[0..<4]), [1, -2.5, 3.25, 0])
        XCTAssertEqual(weight[4].bitPattern, 0x0001_16C2)   // 1e-40, a float32 subnormal
        XCTAssertEqual(weight[5], .infinity)
        XCTAssertEqual(try read(checkpoint, "layer.half"), [1, -0.5, 65504, 0x1p-24])
        XCTAssertEqual(try read(checkpoint, "layer.bf16"), [1, -3, 0.15625])
        XCTAssertEqual(try read(checkpoint, "base"), (0..<10).map(Float.init))
        XCTAssertEqual(try read(checkpoint, "view"), [4, 5, 6, 7])      // shares base's storage
        XCTAssertEqual(try read(checkpoint, "scalar"), [7.5])
        XCTAssertEqual(try read(checkpoint, "param"), [0.25, 0.5])

        for tensor in checkpoint.tensors { checkpoint.release(tensor) }
        XCTAssertEqual(try read(checkpoint, "view"), [4, 5, 6, 7])
    }

    /// Every prefix of a real checkpoint, and single-byte corruptions of it, either open or
    /// throw a ConversionError — never crash.
    func testTruncatedAndCorruptedFixtureNeverCrashes() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.fixturePath)))
        for length in stride(from: 0, to: bytes.count, by: 1) {
            let path = try directory.write("prefix.bin", Array(bytes[0..<length]))
            expectOpensOrThrows(path)
        }
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<1500 {
            var corrupted = bytes
            let index = Int(generator.next() % UInt64(bytes.count))
            corrupted[index] = UInt8(truncatingIfNeeded: generator.next())
            let path = try directory.write("corrupt.bin", corrupted)
            if let checkpoint = expectOpensOrThrows(path) {
                for tensor in checkpoint.tensors { _ = try? read(checkpoint, tensor.name) }
            }
        }
    }

    // MARK: - Archives built here

    func testProtocol4OpcodesAndZip64ExtraFields() throws {
        // STACK_GLOBAL, SHORT_BINUNICODE, MEMOIZE, FRAME, BININT2, BININT, LONG1, BINUNICODE8,
        // LONG_BINPUT/LONG_BINGET, EMPTY_DICT with SETITEM, plus zip64 sizes in the central directory.
        var p = PickleBuilder(protocol: 4)
        p.frame(0)
        p.stackGlobal("collections", "OrderedDict"); p.op(0x94); p.op(0x29); p.op(0x52) // OrderedDict()
        p.shortString("a")
        p.stackGlobal("torch._utils", "_rebuild_tensor_v2")
        p.longPut(1000)
        p.op(0x28)  // MARK (args)
        p.persistentID(storageType: "FloatStorage", key: "k", numel: 300)
        p.int(258)                       // storage offset (BININT2)
        p.int(2); p.int(3); p.op(0x86)   // size (2, 3)
        p.long1(3); p.int(1); p.op(0x86) // stride (3, 1) with LONG1
        p.op(0x89)
        p.op(0x7D)                       // backward hooks: a plain {}
        p.op(0x74)                       // TUPLE
        p.op(0x52)                       // REDUCE
        p.op(0x73)                       // SETITEM a
        p.unicode8("b")
        p.longGet(1000)
        p.op(0x28)
        p.persistentID(storageType: "FloatStorage", key: "k", numel: 300)
        p.binint(299)
        p.op(0x29); p.op(0x29); p.op(0x89); p.op(0x7D); p.op(0x74); p.op(0x52)  // scalar
        p.op(0x73)
        p.op(0x2E)
        var storage = [Float](repeating: 0, count: 300)
        for i in 0..<300 { storage[i] = Float(i) }
        let archive = ZipBuilder.build(prefix: "archive", pickle: p.bytes,
                                       blobs: ["k": littleEndianBytes(storage.map(\.bitPattern))], forceZip64: true)
        let checkpoint = try TorchCheckpoint(path: directory.write("p4.bin", archive))
        XCTAssertEqual(checkpoint.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(try read(checkpoint, "a"), [258, 259, 260, 261, 262, 263])
        XCTAssertEqual(try read(checkpoint, "b"), [299])
    }

    func testZipWithoutZip64Records() throws {
        let archive = ZipBuilder.build(prefix: "m", pickle: PickleBuilder.stateDict([.init(name: "w", numel: 2, size: [2], stride: [1])]),
                                       blobs: ["0": littleEndianBytes([Float(1.5).bitPattern, Float(-1).bitPattern])], zip64: false)
        let checkpoint = try TorchCheckpoint(path: directory.write("plain.bin", archive))
        XCTAssertEqual(try read(checkpoint, "w"), [1.5, -1])
    }

    func testSizeOneDimensionsIgnoreTheirStride() throws {
        // torch treats any stride on a size-1 dimension as contiguous ([1, 3] with stride (7, 1)).
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 3, size: [1, 3], stride: [7, 1])])
        let checkpoint = try TorchCheckpoint(path: directory.write("size1.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1, 2, 3])])))
        XCTAssertEqual(try read(checkpoint, "w"), [1, 2, 3])
    }

    func testUnsafeGlobalIsRefusedByName() throws {
        var p = PickleBuilder(protocol: 2)
        p.global("os", "system")
        p.string("echo hi"); p.op(0x85); p.op(0x52); p.op(0x2E)
        let path = try directory.write("evil.bin", ZipBuilder.build(prefix: "m", pickle: p.bytes, blobs: [:]))
        assertConversionError(.unsafePickle, fieldContains: "m/data.pkl byte 2", problemContains: "os.system") {
            _ = try TorchCheckpoint(path: path)
        }
        var q = PickleBuilder(protocol: 4)
        q.stackGlobal("builtins", "eval"); q.op(0x2E)
        let stackPath = try directory.write("evil4.bin", ZipBuilder.build(prefix: "m", pickle: q.bytes, blobs: [:]))
        assertConversionError(.unsafePickle, fieldContains: "m/data.pkl byte", problemContains: "builtins.eval") {
            _ = try TorchCheckpoint(path: stackPath)
        }
    }

    func testCallingAStorageClassIsRefused() throws {
        var p = PickleBuilder(protocol: 2)
        p.global("torch", "FloatStorage"); p.op(0x29); p.op(0x52); p.op(0x2E)
        let path = try directory.write("call.bin", ZipBuilder.build(prefix: "m", pickle: p.bytes, blobs: [:]))
        assertConversionError(.unsafePickle, fieldContains: "data.pkl byte", problemContains: "torch.FloatStorage") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testUnsupportedOpcodesAreNamedWithTheirOffset() throws {
        let cases: [(opcode: UInt8, kind: ConversionError.Kind, name: String)] = [
            (0x81, .unsafePickle, "NEWOBJ"), (0x69, .unsafePickle, "INST"), (0x49, .malformedTorchCheckpoint, "INT"),
            (0x42, .malformedTorchCheckpoint, "BINBYTES"), (0xFF, .malformedTorchCheckpoint, "0xFF"),
        ]
        for item in cases {
            var p = PickleBuilder(protocol: 2)
            p.op(0x4E)
            p.op(item.opcode)
            let path = try directory.write("op\(item.opcode).bin", ZipBuilder.build(prefix: "m", pickle: p.bytes, blobs: [:]))
            assertConversionError(item.kind, fieldContains: "m/data.pkl byte 3", problemContains: item.name) {
                _ = try TorchCheckpoint(path: path)
            }
        }
    }

    func testNonContiguousTensor() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w.T", numel: 6, size: [3, 2], stride: [1, 3])])
        let path = try directory.write("transposed.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1, 2, 3, 4, 5, 6])]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "tensor 'w.T'.stride", problemContains: "not contiguous") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testStrideCountMismatch() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 6, size: [3, 2], stride: [1])])
        let path = try directory.write("strides.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1, 2, 3, 4, 5, 6])]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "tensor 'w'.stride") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testTensorBeyondItsStorage() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 4, offset: 2, size: [3], stride: [1])])
        let path = try directory.write("oob.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1, 2, 3, 4])]))
        assertConversionError(.offsetOutOfRange, fieldContains: "tensor 'w'.storage_offset") {
            _ = try TorchCheckpoint(path: path)
        }
        let huge = PickleBuilder.stateDict([.init(name: "w", numel: 4, offset: Int.max - 1, size: [3], stride: [1])])
        let hugePath = try directory.write("oob2.bin", ZipBuilder.build(prefix: "m", pickle: huge, blobs: ["0": floats([1, 2, 3, 4])]))
        assertConversionError(.offsetOutOfRange, fieldContains: "tensor 'w'.storage_offset") {
            _ = try TorchCheckpoint(path: hugePath)
        }
    }

    func testStorageBlobSizeMustMatchNumel() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 5, size: [4], stride: [1])])
        let path = try directory.write("blob.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1, 2, 3, 4])]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "tensor 'w'.storage", problemContains: "16 bytes") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testMissingStorageBlob() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", key: "7", numel: 1, size: [1], stride: [1])])
        let path = try directory.write("noblob.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1])]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "tensor 'w'.storage", problemContains: "m/data/7") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testUnsupportedTensorDTypeNamesTensorAndDType() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "embeddings.position_ids", storageType: "LongStorage", numel: 2, size: [1, 2], stride: [2, 1])])
        let path = try directory.write("int64.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": [UInt8](repeating: 0, count: 16)]))
        assertConversionError(.unknownDType, fieldContains: "tensor 'embeddings.position_ids'", problemContains: "int64") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testDeflatedMemberIsRejectedWithAFix() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 1, size: [1], stride: [1])])
        let path = try directory.write("deflate.bin", ZipBuilder.build(prefix: "m", pickle: pickle, blobs: ["0": floats([1])], method: 8))
        let error = assertConversionError(.malformedTorchCheckpoint, fieldContains: "zip member 'm/", problemContains: "compressed") {
            _ = try TorchCheckpoint(path: path)
        }
        XCTAssertTrue(error?.fix.contains("_use_new_zipfile_serialization=True") ?? false)
        XCTAssertTrue(error?.fix.contains("safetensors") ?? false)
    }

    func testLegacyPickleCheckpoint() throws {
        // torch < 1.6: a bare pickle stream starting with PROTO 2 and a LONG1 magic number.
        let path = try directory.write("legacy.bin", [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E])
        let error = assertConversionError(.malformedTorchCheckpoint, fieldContains: "file header", problemContains: "legacy") {
            _ = try TorchCheckpoint(path: path)
        }
        XCTAssertTrue(error?.fix.contains("safetensors") ?? false)
    }

    func testNotAZipArchive() throws {
        let path = try directory.write("text.bin", Array("this is not a checkpoint at all, just some text".utf8))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "zip end of central directory", problemContains: "not a ZIP") {
            _ = try TorchCheckpoint(path: path)
        }
        assertConversionError(.missingFile, fieldContains: "file") {
            _ = try TorchCheckpoint(path: self.directory.url.appendingPathComponent("absent.bin").path)
        }
    }

    func testArchiveWithoutDataPkl() throws {
        let path = try directory.write("nodata.bin", ZipBuilder.build(members: [("m/constants.pkl", [0x80, 2, 0x2E]), ("m/code/x.py", [])]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "data.pkl", problemContains: "TorchScript") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testBigEndianByteOrder() throws {
        let pickle = PickleBuilder.stateDict([.init(name: "w", numel: 1, size: [1], stride: [1])])
        let members: [(String, [UInt8])] = [("m/data.pkl", pickle), ("m/byteorder", Array("big".utf8)), ("m/data/0", floats([1]))]
        let path = try directory.write("big.bin", ZipBuilder.build(members: members))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/byteorder", problemContains: "big") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testRootMustBeAFlatDictOfTensors() throws {
        var list = PickleBuilder(protocol: 2)
        list.op(0x5D); list.op(0x2E)
        let listPath = try directory.write("list.bin", ZipBuilder.build(prefix: "m", pickle: list.bytes, blobs: [:]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/data.pkl", problemContains: "list") {
            _ = try TorchCheckpoint(path: listPath)
        }
        var nested = PickleBuilder(protocol: 2)
        nested.op(0x7D); nested.string("epoch"); nested.int(3); nested.op(0x73); nested.op(0x2E)
        let nestedPath = try directory.write("nested.bin", ZipBuilder.build(prefix: "m", pickle: nested.bytes, blobs: [:]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "tensor 'epoch'", problemContains: "int") {
            _ = try TorchCheckpoint(path: nestedPath)
        }
    }

    func testMalformedPicklePrograms() throws {
        let programs: [(name: String, body: [UInt8], problem: String)] = [
            ("no STOP", [0x7D], "STOP"),
            ("underflow", [0x73, 0x2E], "underflow"),
            ("empty stack at STOP", [0x2E], "empty"),
            ("unwritten memo", [0x68, 0x05, 0x2E], "memo entry 5"),
            ("no mark", [0x4E, 0x74, 0x2E], "MARK"),
            ("setitem on list", [0x5D, 0x4E, 0x4E, 0x73, 0x2E], "list"),
            ("odd setitems", [0x7D, 0x28, 0x4E, 0x75, 0x2E], "odd"),
            ("bad key", [0x7D, 0x4E, 0x4E, 0x73, 0x2E], "key"),
            ("truncated string", [0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x41], "STOP"),
            ("invalid utf8", [0x8C, 0x01, 0xFF, 0x2E], "UTF-8"),
            ("huge LONG1", [0x8A, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x2E], "64 bits"),
            ("bad persid", [0x4E, 0x51, 0x2E], "persistent id"),
            ("reduce non-global", [0x4E, 0x29, 0x52, 0x2E], "REDUCE"),
            ("build on None", [0x4E, 0x4E, 0x62, 0x2E], "BUILD"),
            ("self insert", [0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E], "itself"),
        ]
        for (index, program) in programs.enumerated() {
            let path = try directory.write("prog\(index).bin", ZipBuilder.build(prefix: "m", pickle: [0x80, 0x02] + program.body, blobs: [:]))
            assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/data.pkl byte", problemContains: program.problem) {
                _ = try TorchCheckpoint(path: path)
            }
        }
    }

    func testDeepNestingIsBoundedWithoutCrashing() throws {
        // 100,000 nested tuples would overflow the native stack when freed; the depth limit stops it.
        let depth = 100_000
        let body = [UInt8](repeating: 0x28, count: depth) + [UInt8](repeating: 0x74, count: depth) + [0x2E]
        let path = try directory.write("deep.bin", ZipBuilder.build(prefix: "m", pickle: [0x80, 0x02] + body, blobs: [:]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/data.pkl byte", problemContains: "nest deeper") {
            _ = try TorchCheckpoint(path: path)
        }
        // Lists appended into lists hit the same limit.
        var lists: [UInt8] = [0x80, 0x02, 0x5D]  // [ [ [ ... ] ] ]
        for _ in 0..<200 { lists += [0x28, 0x5D] }   // MARK, [] ... then APPENDS each into its parent
        lists += [UInt8](repeating: 0x65, count: 200) + [0x2E]
        let listPath = try directory.write("deeplists.bin", ZipBuilder.build(prefix: "m", pickle: lists, blobs: [:]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/data.pkl byte", problemContains: "nest deeper") {
            _ = try TorchCheckpoint(path: listPath)
        }
    }

    func testMutatingANestedContainerIsRefused() throws {
        // d = {}; t = (d,); then d["a"] = None: torch.save never fills a container after nesting it.
        let body: [UInt8] = [0x7D, 0x71, 0x00, 0x85, 0x68, 0x00, 0x58, 1, 0, 0, 0, 0x61, 0x4E, 0x73, 0x2E]
        let path = try directory.write("mutate.bin", ZipBuilder.build(prefix: "m", pickle: [0x80, 0x02] + body, blobs: [:]))
        assertConversionError(.malformedTorchCheckpoint, fieldContains: "m/data.pkl byte", problemContains: "after being nested") {
            _ = try TorchCheckpoint(path: path)
        }
    }

    func testEveryPrefixOfAPickleNeverCrashes() throws {
        let pickle = PickleBuilder.stateDict([
            .init(name: "a", numel: 6, size: [2, 3], stride: [3, 1]),
            .init(name: "b", storageType: "HalfStorage", key: "1", numel: 2, size: [2], stride: [1]),
        ])
        for length in 0...pickle.count {
            let archive = ZipBuilder.build(prefix: "m", pickle: Array(pickle[0..<length]),
                                           blobs: ["0": floats([1, 2, 3, 4, 5, 6]), "1": [0, 0x3C, 0, 0xBC]])
            let path = try directory.write("pickle-prefix.bin", archive)
            if let checkpoint = expectOpensOrThrows(path) {
                XCTAssertEqual(length, pickle.count, "only the complete pickle should open")
                XCTAssertEqual(try read(checkpoint, "b"), [1, -1])
            }
        }
    }

    func testContiguityRule() {
        typealias R = (size: [Int], stride: [Int], contiguous: Bool)
        let cases: [R] = [
            ([], [], true), ([5], [1], true), ([5], [2], false), ([2, 3], [3, 1], true), ([2, 3], [1, 2], false),
            ([1, 3], [99, 1], true), ([3, 1], [1, 42], true), ([0, 3], [7, 7], true), ([2, 1, 4], [4, 4, 1], true),
        ]
        for item in cases {
            XCTAssertEqual(TorchTensorLayout.isContiguous(size: item.size, stride: item.stride), item.contiguous, "\(item)")
        }
    }

    // MARK: - Helpers

    @discardableResult
    private func expectOpensOrThrows(_ path: String, line: UInt = #line) -> TorchCheckpoint? {
        do {
            return try TorchCheckpoint(path: path)
        } catch is ConversionError {
            return nil
        } catch {
            XCTFail("unexpected error type \(error)", line: line)
            return nil
        }
    }

    private func read(_ checkpoint: TorchCheckpoint, _ name: String) throws -> [Float] {
        guard let tensor = checkpoint.tensors.first(where: { $0.name == name }) else {
            XCTFail("no tensor \(name)")
            return []
        }
        var values = [Float](repeating: .nan, count: tensor.elementCount)
        try values.withUnsafeMutableBufferPointer { try checkpoint.readFloat32(tensor, into: $0) }
        return values
    }

    private func floats(_ values: [Float]) -> [UInt8] {
        littleEndianBytes(values.map(\.bitPattern))
    }
}

// MARK: - Building pickles and archives

/// Emits pickle opcodes the way Python's pickler does.
struct PickleBuilder {
    var bytes: [UInt8]
    private var memoCount = 0

    init(protocol version: UInt8) {
        bytes = [0x80, version]
    }

    mutating func op(_ code: UInt8) { bytes.append(code) }

    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func stackGlobal(_ module: String, _ name: String) {
        shortString(module); shortString(name); op(0x93)
    }

    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        bytes.append(0x58)
        bytes += littleEndianBytes([UInt32(utf8.count)]) + utf8
    }

    mutating func shortString(_ value: String) {
        let utf8 = Array(value.utf8)
        bytes += [0x8C, UInt8(utf8.count)] + utf8
    }

    mutating func unicode8(_ value: String) {
        let utf8 = Array(value.utf8)
        bytes.append(0x8D)
        bytes += littleEndianBytes([UInt64(utf8.count)]) + utf8
    }

    /// BININT1 / BININT2 / BININT, like the pickler, or LONG1 outside 32 bits.
    mutating func int(_ value: Int) {
        switch value {
        case 0...0xFF: bytes += [0x4B, UInt8(value)]
        case 0x100...0xFFFF: bytes.append(0x4D); bytes += littleEndianBytes([UInt16(value)])
        case Int(Int32.min)...Int(Int32.max): bytes.append(0x4A); bytes += littleEndianBytes([Int32(value)])
        default: long1(value)
        }
    }

    mutating func binint(_ value: Int32) {
        bytes.append(0x4A)
        bytes += littleEndianBytes([value])
    }

    mutating func long1(_ value: Int) {
        bytes += [0x8A, 8] + littleEndianBytes([Int64(value)])
    }

    mutating func frame(_ length: UInt64) {
        bytes.append(0x95)
        bytes += littleEndianBytes([length])
    }

    mutating func longPut(_ index: UInt32) { bytes.append(0x72); bytes += littleEndianBytes([index]) }
    mutating func longGet(_ index: UInt32) { bytes.append(0x6A); bytes += littleEndianBytes([index]) }

    /// `('storage', torch.<type>, key, 'cpu', numel)` followed by BINPERSID.
    mutating func persistentID(storageType: String, key: String, numel: Int) {
        op(0x28)
        string("storage")
        global("torch", storageType)
        string(key)
        string("cpu")
        int(numel)
        op(0x74)
        op(0x51)
    }

    mutating func tuple(_ values: [Int]) {
        op(0x28)
        for value in values { int(value) }
        op(0x74)
    }

    struct Entry {
        var name: String
        var storageType = "FloatStorage"
        var key = "0"
        var numel: Int
        var offset = 0
        var size: [Int]
        var stride: [Int]
    }

    /// A protocol-2 state dict shaped exactly like torch 2.x output (see the fixture README).
    static func stateDict(_ entries: [Entry]) -> [UInt8] {
        var p = PickleBuilder(protocol: 2)
        p.global("collections", "OrderedDict"); p.op(0x71); p.op(0); p.op(0x29); p.op(0x52)
        p.op(0x28)
        for entry in entries {
            p.string(entry.name)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.op(0x28)
            p.persistentID(storageType: entry.storageType, key: entry.key, numel: entry.numel)
            p.int(entry.offset)
            p.tuple(entry.size)
            p.tuple(entry.stride)
            p.op(0x89)
            p.op(0x68); p.op(0); p.op(0x29); p.op(0x52)  // OrderedDict() backward hooks
            p.op(0x74)
            p.op(0x52)
        }
        p.op(0x75)  // SETITEMS
        p.op(0x7D); p.string("_metadata"); p.op(0x68); p.op(0); p.op(0x29); p.op(0x52); p.op(0x73); p.op(0x62) // BUILD
        p.op(0x2E)
        return p.bytes
    }
}

/// Writes ZIP archives the way torch's miniz writer does: STORED members, data-descriptor
/// flag with zero sizes in local headers, "FB" padding to 64-byte-aligned data, and the
/// zip64 end records. `forceZip64` also moves sizes/offsets into zip64 extra fields, as for
/// members beyond 4 GB.
enum ZipBuilder {
    static func build(prefix: String, pickle: [UInt8], blobs: [String: [UInt8]],
                      zip64: Bool = true, forceZip64: Bool = false, method: UInt16 = 0) -> [UInt8] {
        var members: [(String, [UInt8])] = [("\(prefix)/data.pkl", pickle), ("\(prefix)/byteorder", Array("little".utf8))]
        for key in blobs.keys.sorted() { members.append(("\(prefix)/data/\(key)", blobs[key] ?? [])) }
        members.append(("\(prefix)/version", Array("3\n".utf8)))
        return build(members: members, zip64: zip64, forceZip64: forceZip64, method: method)
    }

    static func build(members: [(String, [UInt8])], zip64: Bool = true, forceZip64: Bool = false, method: UInt16 = 0) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += littleEndianBytes([UInt16(v)]) }
        func u32(_ v: Int, _ into: inout [UInt8]) { into += littleEndianBytes([UInt32(v)]) }
        func u64(_ v: Int, _ into: inout [UInt8]) { into += littleEndianBytes([UInt64(v)]) }
        for (name, data) in members {
            let nameBytes = Array(name.utf8)
            let offset = out.count
            // Pad with an "FB" extra field so the data starts on a 64-byte boundary.
            let unpadded = offset + 30 + nameBytes.count + 4
            let padding = (64 - unpadded % 64) % 64
            u32(0x0403_4B50, &out); u16(20, &out); u16(0x0808, &out); u16(Int(method), &out); u16(0, &out); u16(0, &out)
            u32(0, &out); u32(0, &out); u32(0, &out); u16(nameBytes.count, &out); u16(4 + padding, &out)
            out += nameBytes
            out += Array("FB".utf8); u16(padding, &out); out += [UInt8](repeating: 0x5A, count: padding)
            out += data
            u32(0x0807_4B50, &out); u32(0, &out); u32(data.count, &out); u32(data.count, &out) // data descriptor

            var extra: [UInt8] = []
            if forceZip64 { u16(1, &extra); u16(24, &extra); u64(data.count, &extra); u64(data.count, &extra); u64(offset, &extra) }
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0x0808, &central); u16(Int(method), &central)
            u16(0, &central); u16(0, &central); u32(0, &central)
            let small = forceZip64 ? 0xFFFF_FFFF : data.count
            u32(small, &central); u32(small, &central)
            u16(nameBytes.count, &central); u16(extra.count, &central); u16(0, &central); u16(0, &central); u16(0, &central)
            u32(0, &central); u32(forceZip64 ? 0xFFFF_FFFF : offset, &central)
            central += nameBytes + extra
        }
        let directoryOffset = out.count
        out += central
        let zip64Offset = out.count
        if zip64 {
            u32(0x0606_4B50, &out); u64(44, &out); u16(45, &out); u16(45, &out); u32(0, &out); u32(0, &out)
            u64(members.count, &out); u64(members.count, &out); u64(central.count, &out); u64(directoryOffset, &out)
            u32(0x0706_4B50, &out); u32(0, &out); u64(zip64Offset, &out); u32(1, &out)
        }
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out)
        u16(forceZip64 ? 0xFFFF : members.count, &out); u16(forceZip64 ? 0xFFFF : members.count, &out)
        u32(forceZip64 ? 0xFFFF_FFFF : central.count, &out); u32(forceZip64 ? 0xFFFF_FFFF : directoryOffset, &out); u16(0, &out)
        return out
    }
}

/// Deterministic PRNG for the corruption test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
