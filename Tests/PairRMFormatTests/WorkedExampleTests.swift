import PairRMFormat
import XCTest

/// The tiny file of Formats/prm-v1.md §8, byte for byte where the spec fixes the bytes.
final class WorkedExampleTests: XCTestCase {
    func testWorkedExampleBytes() throws {
        let path = ContainerFixtures.temporaryPath("worked-example.prm")
        let writer = try ContainerWriter(path: path)
        try writer.beginTensors([TensorPlan(name: "w", dtype: .f32, shape: [2])])
        try [Float(1.0), -2.0].withUnsafeBytes { try writer.writeTensor(named: "w", bytes: $0) }
        try writer.finish(vocabulary: VocabularyContents(pieces: [], scores: [], types: [], charsmap: [], addedTokens: []),
                          metadata: Metadata(["general.architecture": .string("tiny")]))
        let bytes = try ContainerFixtures.read(path)
        print(hexDump(bytes))

        XCTAssertEqual(Array(bytes[0..<16]), [0x50, 0x52, 0x4d, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 1, 0, 0, 0, 0x40, 0, 0, 0])
        XCTAssertEqual(ContainerFixtures.u64(bytes, 16), UInt64(bytes.count))
        XCTAssertEqual(ContainerFixtures.u32(bytes, 32), 4)
        XCTAssertEqual(ContainerFixtures.u32(bytes, 36), 48)
        XCTAssertEqual(ContainerFixtures.u32(bytes, 48), 64)
        XCTAssertEqual(Array(bytes[64..<72]), [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0])

        let dataEntry = ContainerFixtures.entryOffset(bytes, kind: .tensorData)
        XCTAssertEqual(Array(bytes[dataEntry..<(dataEntry + 32)]),
                       [4, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0])
        let tensorChecksum = xxh64([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0])

        let directoryEntry = ContainerFixtures.entryOffset(bytes, kind: .tensorDirectory)
        let directory = Int(ContainerFixtures.u64(bytes, directoryEntry + 8))
        var expected: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x77, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        expected += [UInt8](repeating: 0, count: 8) + [8, 0, 0, 0, 0, 0, 0, 0]
        expected += (0..<8).map { UInt8(truncatingIfNeeded: tensorChecksum >> (8 * UInt64($0))) }
        XCTAssertEqual(Array(bytes[directory..<(directory + expected.count)]), expected)

        let metadataEntry = ContainerFixtures.entryOffset(bytes, kind: .metadata)
        let metadata = Int(ContainerFixtures.u64(bytes, metadataEntry + 8))
        let metadataBytes: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0] + Array("general.architecture".utf8)
            + [4, 0, 0, 0, 4, 0, 0, 0] + Array("tiny".utf8)
        XCTAssertEqual(Array(bytes[metadata..<(metadata + metadataBytes.count)]), metadataBytes)

        let file = try ModelFile(path: path)
        XCTAssertEqual(file.vocabulary.pieceCount, 0)
        XCTAssertEqual(file.verifyAll(), [])
    }

    func hexDump(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { start in
            let line = bytes[start..<min(bytes.count, start + 16)]
            let hex = line.map { String(format: "%02x", $0) }.joined(separator: " ")
            return String(format: "%08x  ", start) + hex
        }.joined(separator: "\n")
    }
}
