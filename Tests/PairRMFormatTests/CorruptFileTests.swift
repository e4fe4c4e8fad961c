import PairRMFormat
import XCTest

/// One hand-made corrupt file per failure class of the reader (Formats/prm-v1.md §3–§7).
final class CorruptFileTests: XCTestCase {
    var good: [UInt8] = []

    override func setUpWithError() throws {
        good = try ContainerFixtures.read(ContainerFixtures.makeFile("corrupt-base.prm").path)
        XCTAssertNoThrow(try ContainerFixtures.open(good))
    }

    func testWrongMagic() {
        var bytes = good
        bytes[0] = 0x47  // "GRMF"
        let error = assertFormatError(.badMagic) { try ContainerFixtures.open(bytes) }
        XCTAssertTrue(error?.fix.contains("pairrm convert") ?? false)
        assertFormatError(.badMagic) { try ContainerFixtures.open(Array("GGUF....".utf8)) }
        assertFormatError(.badMagic) { try ContainerFixtures.open([]) }
    }

    func testNewerVersion() {
        var bytes = good
        ContainerFixtures.put32(&bytes, 8, 2)
        let error = assertFormatError(.unsupportedVersion) { try ContainerFixtures.open(bytes) }
        XCTAssertTrue(error?.fix.contains("upgrade") ?? false)
    }

    func testTruncatedFile() {
        for length in [9, 63, 64, 100, good.count / 2, good.count - 1] {
            let bytes = Array(good[0..<length])
            assertFormatError(.truncated) { try ContainerFixtures.open(bytes) }
        }
    }

    func testHeaderChecksumMismatch() {
        var bytes = good
        bytes[52] = 1  // flags, without resealing
        assertFormatError(.checksumMismatch) { try ContainerFixtures.open(bytes) }
    }

    func testReservedFlags() {
        var bytes = good
        bytes[52] = 1
        ContainerFixtures.resealHeader(&bytes)
        assertFormatError(.malformed) { try ContainerFixtures.open(bytes) }
    }

    func testSectionTableChecksumMismatch() {
        var bytes = good
        let entry = ContainerFixtures.entryOffset(bytes, kind: .metadata)
        bytes[entry + 40] = 0xFF
        assertFormatError(.checksumMismatch) { try ContainerFixtures.open(bytes) }
    }

    func testOverlappingSections() {
        var bytes = good
        let data = ContainerFixtures.entryOffset(bytes, kind: .tensorData)
        let vocabulary = ContainerFixtures.entryOffset(bytes, kind: .vocabulary)
        ContainerFixtures.put64(&bytes, vocabulary + 8, ContainerFixtures.u64(bytes, data + 8))
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.overlap) { try ContainerFixtures.open(bytes) }
    }

    func testSectionOutOfRange() {
        var bytes = good
        let metadata = ContainerFixtures.entryOffset(bytes, kind: .metadata)
        ContainerFixtures.put64(&bytes, metadata + 8, UInt64(bytes.count + 64) & ~63)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(bytes) }
    }

    func testIntegerOverflowInSectionOffsetAndSize() {
        var bytes = good
        let metadata = ContainerFixtures.entryOffset(bytes, kind: .metadata)
        ContainerFixtures.put64(&bytes, metadata + 8, UInt64.max & ~63)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(bytes) }

        var huge = good
        let entry = ContainerFixtures.entryOffset(huge, kind: .metadata)
        ContainerFixtures.put64(&huge, entry + 16, UInt64.max - 10)
        ContainerFixtures.put64(&huge, entry + 24, UInt64.max - 10)
        ContainerFixtures.resealTable(&huge)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(huge) }

        var table = good
        ContainerFixtures.put64(&table, 24, UInt64.max - 63)
        ContainerFixtures.resealHeader(&table)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(table) }
    }

    func testIntegerOverflowInTensorShape() throws {
        // Rewrite the first directory entry's shape to [2^32] with dtype F32: size no longer matches.
        var bytes = good
        let directory = Int(ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .tensorDirectory) + 8))
        let nameLength = Int(bytes[directory + 8]) | Int(bytes[directory + 9]) << 8
        let shapeOffset = directory + 10 + nameLength + 4
        ContainerFixtures.put64(&bytes, shapeOffset, 1 << 32)
        ContainerFixtures.resealSection(&bytes, kind: .tensorDirectory)
        assertFormatError(.malformed) { try ContainerFixtures.open(bytes) }
        ContainerFixtures.put64(&bytes, shapeOffset, UInt64.max)
        ContainerFixtures.resealSection(&bytes, kind: .tensorDirectory)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(bytes) }
    }

    func testTensorOffsetOutOfRange() {
        var bytes = good
        let directory = Int(ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .tensorDirectory) + 8))
        let nameLength = Int(bytes[directory + 8]) | Int(bytes[directory + 9]) << 8
        let offsetField = directory + 10 + nameLength + 4 + 8  // after dtype/rank/reserved and shape[0]
        let dataSize = ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .tensorData) + 24)
        ContainerFixtures.put64(&bytes, offsetField, dataSize & ~63)
        ContainerFixtures.resealSection(&bytes, kind: .tensorDirectory)
        assertFormatError(.outOfRange) { try ContainerFixtures.open(bytes) }
    }

    func testUnknownCodec() {
        var bytes = good
        ContainerFixtures.put32(&bytes, ContainerFixtures.entryOffset(bytes, kind: .metadata) + 4, 7)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.unknownCodec) { try ContainerFixtures.open(bytes) }
    }

    func testUnknownRequiredSectionKindAndSkippedOptionalKind() throws {
        var bytes = good
        let metadata = ContainerFixtures.entryOffset(bytes, kind: .metadata)
        ContainerFixtures.put32(&bytes, metadata, 9)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.unknownSection) { try ContainerFixtures.open(bytes) }
        // An optional kind is skipped, so the file then lacks METADATA.
        ContainerFixtures.put32(&bytes, metadata, 0x8001)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.missing) { try ContainerFixtures.open(bytes) }
    }

    func testUnknownDType() {
        var bytes = good
        let directory = Int(ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .tensorDirectory) + 8))
        let nameLength = Int(bytes[directory + 8]) | Int(bytes[directory + 9]) << 8
        bytes[directory + 10 + nameLength] = 99
        ContainerFixtures.resealSection(&bytes, kind: .tensorDirectory)
        let error = assertFormatError(.unknownDType) { try ContainerFixtures.open(bytes) }
        XCTAssertTrue(error?.problem.contains("99") ?? false)
        XCTAssertTrue(error?.field.contains("norm.weight") ?? false)
    }

    func testMetadataChecksumMismatchFailsTheLoad() {
        var bytes = good
        let offset = Int(ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .metadata) + 8))
        bytes[offset + 20] ^= 1
        let error = assertFormatError(.checksumMismatch) { try ContainerFixtures.open(bytes) }
        XCTAssertTrue(error?.field.contains("METADATA") ?? false)
    }

    func testTensorChecksumMismatchIsFoundByVerifyNotByDefaultLoad() throws {
        var bytes = good
        let data = Int(ContainerFixtures.u64(bytes, ContainerFixtures.entryOffset(bytes, kind: .tensorData) + 8))
        bytes[data + 1] ^= 0x10  // inside "norm.weight"
        let file = try ContainerFixtures.open(bytes)  // zero-copy load does not read the weights
        let failures = file.verifyAll()
        XCTAssertEqual(failures.count, 2)  // the section checksum and the tensor's own
        XCTAssertTrue(failures.contains { $0.field.contains("norm.weight") })
        assertFormatError(.checksumMismatch) { try ContainerFixtures.open(bytes, options: LoadOptions(verifyTensors: true)) }
    }

    func testMetadataCountThatLies() throws {
        var writer = ByteWriter()
        writer.u64(1)
        writer.u32(3); writer.append(Array("a.b".utf8)); writer.u32(5); writer.u32(2); writer.u64(1 << 20)
        try writer.bytes.withUnsafeBytes { raw in
            assertFormatError(.truncated) { try Metadata.decode(raw, file: "m") }
        }
    }

    func testZstdFrameThatLiesAboutItsSize() throws {
        // The vocabulary is a zstd frame; claim one byte more in the table (resealed): the frame's
        // own content size no longer agrees.
        var bytes = good
        let entry = ContainerFixtures.entryOffset(bytes, kind: .vocabulary)
        let decoded = ContainerFixtures.u64(bytes, entry + 24)
        ContainerFixtures.put64(&bytes, entry + 24, decoded + 1)
        ContainerFixtures.resealTable(&bytes)
        assertFormatError(.decompression) { try ContainerFixtures.open(bytes) }

        // Now make the frame header itself lie (claims one more byte than it holds), table agreeing.
        var lying = good
        let offset = Int(ContainerFixtures.u64(lying, entry + 8))
        let descriptor = lying[offset + 4]
        let singleSegment = descriptor & 0x20 != 0
        let sizeFieldAt = offset + 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][Int(descriptor & 3)]
        let fcsFlag = descriptor >> 6
        XCTAssertTrue(fcsFlag == 1 || (fcsFlag == 0 && singleSegment), "small frames use a 1- or 2-byte size field")
        if fcsFlag == 0 { lying[sizeFieldAt] += 1 } else {
            let value = UInt16(lying[sizeFieldAt]) | UInt16(lying[sizeFieldAt + 1]) << 8 + 1
            lying[sizeFieldAt] = UInt8(value & 0xFF); lying[sizeFieldAt + 1] = UInt8(value >> 8)
        }
        ContainerFixtures.put64(&lying, entry + 24, decoded + 1)
        ContainerFixtures.resealSection(&lying, kind: .vocabulary)
        assertFormatError(.decompression) { try ContainerFixtures.open(lying) }
    }

    func testCorruptVocabularyTables() throws {
        var contents = ContainerFixtures.vocabulary
        var encoded = contents.encoded()
        // POFS is the first block; make its second offset larger than the third (decreasing).
        let pofs = Int(ContainerFixtures.u64(encoded, 8 + 8))
        ContainerFixtures.put32(&encoded, pofs + 4, 100)
        let buffer = AlignedBuffer(count: encoded.count)
        encoded.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
        assertFormatError(.malformed) { try VocabularyView(buffer: buffer, file: "v") }

        contents.types[0] = .normal
        var badType = contents.encoded()
        let ptyp = Int(ContainerFixtures.u64(badType, 8 + 3 * 24 + 8))
        badType[ptyp] = 9
        let typeBuffer = AlignedBuffer(count: badType.count)
        badType.withUnsafeBytes { typeBuffer.mutableBytes.copyMemory(from: $0) }
        assertFormatError(.malformed) { try VocabularyView(buffer: typeBuffer, file: "v") }
    }

    /// Optional blocks (e.g. the tokenizer's PTRI) are written after the required ones, 8-aligned,
    /// and come back byte for byte through `blocks[tag]`; readers ignore them otherwise.
    func testExtraVocabularyBlocksRoundTrip() throws {
        var contents = ContainerFixtures.vocabulary
        contents.extraBlocks = [VocabularyBlock(tag: "XTRA", bytes: [1, 2, 3]), VocabularyBlock(tag: "PTRI", bytes: Array(0..<40))]
        let encoded = contents.encoded()
        XCTAssertEqual(ContainerFixtures.u32(encoded, 4), 8)
        let buffer = AlignedBuffer(count: encoded.count)
        encoded.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
        let view = try VocabularyView(buffer: buffer, file: "v")
        XCTAssertEqual(view.blocks["XTRA"].map(Array.init), [1, 2, 3])
        let trie = try XCTUnwrap(view.blocks["PTRI"])
        XCTAssertEqual(Array(trie), Array(0..<40))
        XCTAssertEqual(Int(bitPattern: trie.baseAddress) % 8, 0)
        XCTAssertEqual(view.pieceCount, 3)
        XCTAssertEqual(Array(view.piece(2)), Array("▁hi".utf8))
        // Without extra blocks the encoding is unchanged (6 blocks).
        XCTAssertEqual(ContainerFixtures.u32(ContainerFixtures.vocabulary.encoded(), 4), 6)
    }
}
