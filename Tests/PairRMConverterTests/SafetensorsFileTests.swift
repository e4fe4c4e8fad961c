import Foundation
import XCTest
@testable import PairRMConverter

final class SafetensorsFileTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory = nil
    }

    // MARK: - Happy path

    func testReadsF32F16BF16InDataOrder() throws {
        let f32: [Float] = [1, -2.5, .infinity, Float(bitPattern: 1)]
        let f16: [UInt16] = [0x3C00, 0x8001, 0x7C00, 0x7E00]        // 1, −2^-24, +inf, NaN
        let bf16: [UInt16] = [0x3F80, 0xC040, 0xFF80]                 // 1, −3, −inf
        var data = littleEndianBytes(f16)                             // 8 bytes at 0
        data += littleEndianBytes(f32.map(\.bitPattern))              // 16 bytes at 8
        data += littleEndianBytes(bf16)                               // 6 bytes at 24
        let header = """
        {"__metadata__": {"format": "pt"},
         "w32": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]},
         "w16": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
         "wbf": {"dtype": "BF16", "shape": [3, 1], "data_offsets": [24, 30]},
         "empty": {"dtype": "F32", "shape": [0, 5], "data_offsets": [30, 30]}}
        """
        let file = try SafetensorsFile(path: directory.write("ok.safetensors", safetensors(header: header, data: data)))

        XCTAssertEqual(file.tensors.map(\.name), ["w16", "w32", "wbf", "empty"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.tensors[1], SourceTensor(name: "w32", dtype: .f32, shape: [2, 2], elementCount: 4, byteCount: 16))
        XCTAssertEqual(file.tensors[2].shape, [3, 1])
        XCTAssertEqual(file.tensors[3].elementCount, 0)

        XCTAssertEqual(try read(file, "w32").map(\.bitPattern), f32.map(\.bitPattern))
        let half = try read(file, "w16")
        XCTAssertEqual(half[0], 1)
        XCTAssertEqual(half[1], -0x1p-24)
        XCTAssertEqual(half[2], .infinity)
        XCTAssertTrue(half[3].isNaN)
        XCTAssertEqual(try read(file, "wbf"), [1, -3, -.infinity])
        XCTAssertEqual(try read(file, "empty"), [])

        // Releasing is only a hint: the bytes can still be read afterwards.
        for tensor in file.tensors { file.release(tensor) }
        XCTAssertEqual(try read(file, "w32").map(\.bitPattern), f32.map(\.bitPattern))
    }

    func testUnalignedDataSectionIsReadCorrectly() throws {
        // A header of odd length puts the F32 data at an odd file offset.
        let header = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"# + " "
        let data = littleEndianBytes([Float(0.5).bitPattern, Float(-7).bitPattern])
        let file = try SafetensorsFile(path: directory.write("odd.safetensors", safetensors(header: header, data: data)))
        XCTAssertEqual(try read(file, "x"), [0.5, -7])
    }

    func testDestinationOfWrongSizeIsAnError() throws {
        let header = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let file = try SafetensorsFile(path: directory.write("x.safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 8))))
        var destination = [Float](repeating: 0, count: 3)
        assertConversionError(.wrongShape, fieldContains: "'x'") {
            try destination.withUnsafeMutableBufferPointer { try file.readFloat32(file.tensors[0], into: $0) }
        }
        var stranger = file.tensors[0]
        stranger.name = "y"
        var two = [Float](repeating: 0, count: 2)
        assertConversionError(.missingTensor, fieldContains: "'y'") {
            try two.withUnsafeMutableBufferPointer { try file.readFloat32(stranger, into: $0) }
        }
    }

    /// JSONSerialization keeps one of two duplicate keys without telling us; the file still
    /// opens with a single, fully validated tensor of that name.
    func testDuplicateNamesKeepOneEntry() throws {
        let header = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let file = try SafetensorsFile(path: directory.write("dup.safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 8))))
        XCTAssertEqual(file.tensors.map(\.name), ["x"])
    }

    // MARK: - Failure classes

    func testMissingFile() {
        assertConversionError(.missingFile, fieldContains: "file") {
            _ = try SafetensorsFile(path: self.directory.url.appendingPathComponent("absent.safetensors").path)
        }
    }

    func testFileShorterThanEightBytes() throws {
        for length in 0..<8 {
            let path = try directory.write("short\(length).safetensors", [UInt8](repeating: 1, count: length))
            assertConversionError(.malformedSafetensors, fieldContains: "header length", file: path) {
                _ = try SafetensorsFile(path: path)
            }
        }
    }

    func testHeaderLengthZero() throws {
        let path = try directory.write("zero.safetensors", [UInt8](repeating: 0, count: 16))
        assertConversionError(.malformedSafetensors, fieldContains: "header length", problemContains: "is 0") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testOversizedHeaderLength() throws {
        let path = try directory.write("huge.safetensors", littleEndianBytes([UInt64(100_000_001)]) + Array("{}".utf8))
        assertConversionError(.malformedSafetensors, fieldContains: "header length", problemContains: "limit") {
            _ = try SafetensorsFile(path: path)
        }
        let maximal = try directory.write("max.safetensors", littleEndianBytes([UInt64.max]) + Array("{}".utf8))
        assertConversionError(.malformedSafetensors, fieldContains: "header length") {
            _ = try SafetensorsFile(path: maximal)
        }
    }

    func testTruncatedHeader() throws {
        let path = try directory.write("trunc.safetensors", littleEndianBytes([UInt64(50)]) + Array(#"{"a":"#.utf8))
        assertConversionError(.malformedSafetensors, fieldContains: "header length", problemContains: "50 bytes") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testInvalidJSON() throws {
        let path = try directory.write("bad.safetensors", safetensors(header: #"{"x": {"dtype": "F32", "#, data: []))
        assertConversionError(.malformedSafetensors, fieldContains: "header", problemContains: "not valid JSON") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testJSONNotAnObject() throws {
        let path = try directory.write("array.safetensors", safetensors(header: "[1, 2]", data: []))
        assertConversionError(.malformedSafetensors, fieldContains: "header", problemContains: "not an object") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testUnknownDTypeNamesItAndTheSupportedOnes() throws {
        for dtype in ["I64", "F64", "BOOL"] {
            let header = #"{"ids":{"dtype":"\#(dtype)","shape":[1],"data_offsets":[0,8]}}"#
            let path = try directory.write("\(dtype).safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
            let error = assertConversionError(.unknownDType, fieldContains: "header.tensor 'ids'.dtype") {
                _ = try SafetensorsFile(path: path)
            }
            XCTAssertTrue(error?.problem.contains(dtype) ?? false)
            XCTAssertTrue(error?.problem.contains("F32, F16, BF16") ?? false)
        }
    }

    func testShapeMustBeArrayOfNonNegativeIntegers() throws {
        let cases: [(shape: String, field: String)] = [
            (#""4""#, ".shape"), ("[-1]", ".shape[0]"), ("[2, 1.5]", ".shape[1]"), ("[2.0]", ".shape[0]"),
            ("[true]", ".shape[0]"), ("[null]", ".shape[0]"), ("[9223372036854775808]", ".shape[0]"),
            ("[1e30]", ".shape[0]"), ("[99999999999999999999999]", ".shape[0]"),
        ]
        for (index, item) in cases.enumerated() {
            let header = #"{"t":{"dtype":"F32","shape":\#(item.shape),"data_offsets":[0,4]}}"#
            let path = try directory.write("shape\(index).safetensors", safetensors(header: header, data: [0, 0, 0, 0]))
            assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'" + item.field) {
                _ = try SafetensorsFile(path: path)
            }
        }
    }

    func testElementCountOverflow() throws {
        let header = #"{"t":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,4]}}"#
        let path = try directory.write("overflow.safetensors", safetensors(header: header, data: [0, 0, 0, 0]))
        assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.shape", problemContains: "overflows") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testByteCountOverflow() throws {
        let header = #"{"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#
        let path = try directory.write("bytes.safetensors", safetensors(header: header, data: [0, 0, 0, 0]))
        assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.shape", problemContains: "overflows") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testDataOffsetsMustBeTwoIntegers() throws {
        for (index, offsets) in ["[0]", "[0, 4, 8]", #"["0", 4]"#, "[0, 4.5]", "[-4, 0]", "4", "null"].enumerated() {
            let header = #"{"t":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#
            let path = try directory.write("offsets\(index).safetensors", safetensors(header: header, data: [0, 0, 0, 0]))
            assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.data_offsets") {
                _ = try SafetensorsFile(path: path)
            }
        }
        let missing = try directory.write("nooffsets.safetensors", safetensors(header: #"{"t":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]))
        assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.data_offsets") {
            _ = try SafetensorsFile(path: missing)
        }
    }

    func testBeginAfterEnd() throws {
        let header = #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#
        let path = try directory.write("reversed.safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
        assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.data_offsets", problemContains: "after end") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testOffsetBeyondDataSection() throws {
        let header = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let path = try directory.write("short-data.safetensors", safetensors(header: header, data: [0, 0, 0, 0]))
        assertConversionError(.offsetOutOfRange, fieldContains: "header.tensor 't'.data_offsets", problemContains: "beyond") {
            _ = try SafetensorsFile(path: path)
        }
        let huge = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775800,9223372036854775807]}}"#
        let hugePath = try directory.write("huge-offsets.safetensors", safetensors(header: huge, data: [0, 0, 0, 0]))
        assertConversionError(.offsetOutOfRange, fieldContains: "header.tensor 't'.data_offsets") {
            _ = try SafetensorsFile(path: hugePath)
        }
    }

    func testSizeDifferentFromShapeTimesDType() throws {
        let header = #"{"t":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#
        let path = try directory.write("size.safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 8)))
        assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 't'.data_offsets", problemContains: "needs 6") {
            _ = try SafetensorsFile(path: path)
        }
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let path = try directory.write("overlap.safetensors", safetensors(header: header, data: [UInt8](repeating: 0, count: 12)))
        let error = assertConversionError(.malformedSafetensors, fieldContains: "header.tensor 'b'.data_offsets", problemContains: "overlap") {
            _ = try SafetensorsFile(path: path)
        }
        XCTAssertTrue(error?.problem.contains("'a'") ?? false)
    }

    func testMalformedEntriesAndMetadata() throws {
        let cases: [(header: String, field: String)] = [
            (#"{"t": 3}"#, "header.tensor 't'"),
            (#"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, "header.tensor 't'.dtype"),
            (#"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#, "header.tensor 't'.shape"),
            (#"{"__metadata__": [1]}"#, "header.__metadata__"),
            (#"{"__metadata__": {"format": 1}}"#, "header.__metadata__.format"),
        ]
        for (index, item) in cases.enumerated() {
            let path = try directory.write("entry\(index).safetensors", safetensors(header: item.header, data: [0, 0, 0, 0]))
            assertConversionError(.malformedSafetensors, fieldContains: item.field) {
                _ = try SafetensorsFile(path: path)
            }
        }
    }

    // MARK: - Half-precision widening

    func testFloat16WideningIsExactForEveryBitPattern() {
        var mismatches: [UInt16] = []
        for bits in 0...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let ours = float32(fromFloat16Bits: bits)
            // NaNs keep sign and payload (quiet bit included), as a hardware convert would.
            let expected = reference.isNaN
                ? (UInt32(bits & 0x8000) << 16) | 0x7F80_0000 | (UInt32(bits & 0x3FF) << 13)
                : reference.bitPattern
            if ours.bitPattern != expected { mismatches.append(bits) }
        }
        XCTAssertEqual(mismatches, [], "first mismatching half bit patterns")
        XCTAssertEqual(float32(fromFloat16Bits: 0x0001), 0x1p-24)          // smallest subnormal
        XCTAssertEqual(float32(fromFloat16Bits: 0x03FF), 0x1.FF8p-15)      // largest subnormal
        XCTAssertEqual(float32(fromFloat16Bits: 0x7BFF), 65504)
        XCTAssertEqual(float32(fromFloat16Bits: 0xFC00), -.infinity)
        XCTAssertEqual(float32(fromFloat16Bits: 0x8000).bitPattern, 0x8000_0000) // −0
    }

    func testBFloat16WideningKeepsTheTopBits() {
        XCTAssertEqual(float32(fromBFloat16Bits: 0x3F80), 1)
        XCTAssertEqual(float32(fromBFloat16Bits: 0x0001).bitPattern, 0x0001_0000)   // subnormal
        XCTAssertEqual(float32(fromBFloat16Bits: 0x7F80), .infinity)
        XCTAssertEqual(float32(fromBFloat16Bits: 0xFFC1).bitPattern, 0xFFC1_0000)   // NaN payload kept
    }

    func testDecodeLoopsMatchScalarConversion() {
        let halves: [UInt16] = [0x0000, 0x0001, 0x03FF, 0x3C00, 0x7BFF, 0x7C00, 0xFE01, 0x8400]
        var raw = [UInt8](repeating: 0xAA, count: 1) + littleEndianBytes(halves) // odd start: unaligned
        var out = [Float](repeating: 0, count: halves.count)
        raw.withUnsafeMutableBytes { bytes in
            out.withUnsafeMutableBufferPointer { SourceDType.f16.decodeLittleEndian(bytes.baseAddress! + 1, into: $0) }
        }
        XCTAssertEqual(out.map(\.bitPattern), halves.map { float32(fromFloat16Bits: $0).bitPattern })
        raw.withUnsafeMutableBytes { bytes in
            out.withUnsafeMutableBufferPointer { SourceDType.bf16.decodeLittleEndian(bytes.baseAddress! + 1, into: $0) }
        }
        XCTAssertEqual(out.map(\.bitPattern), halves.map { UInt32($0) << 16 })
    }

    // MARK: - Helpers

    private func read(_ file: SafetensorsFile, _ name: String) throws -> [Float] {
        guard let tensor = file.tensors.first(where: { $0.name == name }) else {
            XCTFail("no tensor \(name)")
            return []
        }
        var values = [Float](repeating: .nan, count: tensor.elementCount)
        try values.withUnsafeMutableBufferPointer { try file.readFloat32(tensor, into: $0) }
        return values
    }

    private func safetensors(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return littleEndianBytes([UInt64(json.count)]) + json + data
    }
}

// MARK: - Shared by the converter tests

/// A fresh directory under the system temp dir, removed when released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("PairRMConverterTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `bytes` to `name` and returns the path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file.path
    }
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(values.count * MemoryLayout<T>.size)
    for value in values {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    return bytes
}

/// Runs `body`, which must throw a `ConversionError` of `kind` whose field contains
/// `fieldContains` (and problem `problemContains`); also checks that file/fix are filled in.
@discardableResult
func assertConversionError(_ kind: ConversionError.Kind, fieldContains field: String, problemContains problem: String? = nil,
                           file path: String? = nil, _ body: () throws -> Void,
                           sourceFile: StaticString = #filePath, line: UInt = #line) -> ConversionError? {
    do {
        try body()
        XCTFail("expected a \(kind) error, nothing was thrown", file: sourceFile, line: line)
        return nil
    } catch let error as ConversionError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: sourceFile, line: line)
        XCTAssertTrue(error.field.contains(field), "field '\(error.field)' lacks '\(field)' — \(error)", file: sourceFile, line: line)
        if let problem {
            XCTAssertTrue(error.problem.contains(problem), "problem '\(error.problem)' lacks '\(problem)'", file: sourceFile, line: line)
        }
        if let path {
            XCTAssertEqual(error.file, path, file: sourceFile, line: line)
        }
        XCTAssertFalse(error.file.isEmpty, file: sourceFile, line: line)
        XCTAssertFalse(error.problem.isEmpty, file: sourceFile, line: line)
        XCTAssertFalse(error.fix.isEmpty, file: sourceFile, line: line)
        return error
    } catch {
        XCTFail("expected a ConversionError, got \(error)", file: sourceFile, line: line)
        return nil
    }
}
