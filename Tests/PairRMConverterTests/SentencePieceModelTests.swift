import Foundation
import XCTest
import PairRMFormat
@testable import PairRMConverter

final class SentencePieceModelTests: XCTestCase {
    /// The committed copy of the DeBERTa-v3 spm.model (Tests/Fixtures/tokenizer/README.md).
    static let realModelPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures/tokenizer/deberta-v3-spm.model.zst").path

    // MARK: - The real DeBERTa-v3 model

    func testParsesTheDeBERTaV3Model() throws {
        let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.realModelPath)))
        let bytes = try Zstd.decompressFrame(compressed, file: Self.realModelPath)
        let model = try SentencePieceModel.parse(bytes, file: Self.realModelPath)

        XCTAssertEqual(model.pieces.count, 128_000)
        XCTAssertEqual(piece(model, 0), "[PAD]"); XCTAssertEqual(model.pieces[0].type, .control)
        XCTAssertEqual(piece(model, 1), "[CLS]"); XCTAssertEqual(model.pieces[1].type, .control)
        XCTAssertEqual(piece(model, 2), "[SEP]"); XCTAssertEqual(model.pieces[2].type, .control)
        XCTAssertEqual(piece(model, 3), "[UNK]"); XCTAssertEqual(model.pieces[3].type, .unknown)
        XCTAssertEqual(piece(model, 4), "<0x00>"); XCTAssertEqual(model.pieces[4].type, .byte)
        XCTAssertEqual(piece(model, 259), "<0xFF>"); XCTAssertEqual(model.pieces[259].type, .byte)
        XCTAssertEqual(piece(model, 260), "."); XCTAssertEqual(model.pieces[260].type, .normal)
        XCTAssertEqual(model.pieces[260].score, -3.0957, accuracy: 1e-4)
        XCTAssertEqual(model.pieces[0].score, 0)
        XCTAssertEqual(model.pieces[127_999].score, -24.518644, accuracy: 1e-5)
        XCTAssertEqual(piece(model, 507), "\u{2581}")
        XCTAssertEqual(model.pieces.filter { $0.type == .normal }.count, 127_740)

        XCTAssertEqual(model.modelType, 1)
        XCTAssertEqual(model.vocabSize, 128_000)
        XCTAssertTrue(model.byteFallback)
        XCTAssertEqual(model.unkID, 3)
        XCTAssertEqual(model.bosID, 1)
        XCTAssertEqual(model.eosID, 2)
        XCTAssertEqual(model.padID, 0)
        XCTAssertFalse(model.treatWhitespaceAsSuffix)
        XCTAssertEqual(model.normalizerName, "nmt_nfkc")
        XCTAssertEqual(model.precompiledCharsmap.count, 237_539)
        XCTAssertTrue(model.addDummyPrefix)
        XCTAssertTrue(model.removeExtraWhitespaces)
        XCTAssertTrue(model.escapeWhitespaces)   // absent in the file: proto default
    }

    // MARK: - Hand-made models

    func testSmallModelWithDefaultsAndSkippedUnknownFields() throws {
        let model = try SentencePieceModel.parse(Self.smallModel().bytes, file: "small.model")
        XCTAssertEqual(model.pieces.map { String(decoding: $0.bytes, as: UTF8.self) }, ["<unk>", "<s>", "</s>", "\u{2581}a", "b", "<0x41>"])
        XCTAssertEqual(model.pieces.map(\.type), [.unknown, .control, .control, .normal, .normal, .byte])
        XCTAssertEqual(model.pieces.map(\.score), [0, 0, 0, -1.5, -2.25, 0])
        XCTAssertEqual(model.vocabSize, 6)
        XCTAssertTrue(model.byteFallback)
        XCTAssertEqual(model.unkID, 0)
        XCTAssertEqual(model.padID, -1)               // a negative int32: a 10-byte varint
        XCTAssertTrue(model.treatWhitespaceAsSuffix)
        XCTAssertEqual(model.normalizerName, "identity")
        XCTAssertEqual(model.precompiledCharsmap, [1, 2, 3])
        XCTAssertFalse(model.addDummyPrefix)
        XCTAssertTrue(model.removeExtraWhitespaces)   // absent: default true
        XCTAssertTrue(model.escapeWhitespaces)        // absent: default true
    }

    func testProtoDefaultsWhenSpecsAreAbsent() throws {
        var root = ProtoWriter()
        var unk = ProtoWriter(); unk.string(1, "<unk>"); unk.varint(3, 2)
        root.message(1, unk)
        let model = try SentencePieceModel.parse(root.bytes, file: "bare.model")
        XCTAssertEqual(model.modelType, 1)
        XCTAssertNil(model.vocabSize)
        XCTAssertFalse(model.byteFallback)
        XCTAssertEqual([model.unkID, model.bosID, model.eosID, model.padID], [0, 1, 2, -1])
        XCTAssertEqual(model.normalizerName, "")
        XCTAssertTrue(model.addDummyPrefix && model.removeExtraWhitespaces && model.escapeWhitespaces)
    }

    func testEveryPrefixParsesOrThrows() {
        let bytes = Self.smallModel().bytes
        var parsed = 0
        for length in 0...bytes.count {
            do {
                _ = try SentencePieceModel.parse(Array(bytes[0..<length]), file: "prefix.model")
                parsed += 1
            } catch is ConversionError {
                continue
            } catch {
                XCTFail("prefix \(length): unexpected error \(error)")
            }
        }
        XCTAssertGreaterThanOrEqual(parsed, 1) // at least the whole model
    }

    func testCorruptedBytesParseOrThrow() {
        let bytes = Self.smallModel().bytes
        var generator = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            var corrupted = bytes
            for _ in 0..<3 {
                corrupted[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                _ = try SentencePieceModel.parse(corrupted, file: "corrupt.model")
            } catch is ConversionError {
            } catch {
                XCTFail("unexpected error \(error)")
            }
        }
    }

    // MARK: - Failure classes

    func testTruncatedVarint() {
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "varint") {
            _ = try SentencePieceModel.parse([0x38, 0x80], file: "t.model")
        }
        // A key that is itself cut short.
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "varint") {
            _ = try SentencePieceModel.parse([0xFF], file: "t.model")
        }
    }

    func testOverlongVarint() {
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "10 bytes") {
            _ = try SentencePieceModel.parse([0x38] + [UInt8](repeating: 0x80, count: 10) + [0x01], file: "t.model")
        }
    }

    func testLengthBeyondBuffer() {
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "past the end") {
            _ = try SentencePieceModel.parse([0x0A, 100, 1, 2, 3], file: "t.model")
        }
        // A huge length must not overflow the bounds arithmetic.
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "past the end") {
            _ = try SentencePieceModel.parse([0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01], file: "t.model")
        }
        // A sub-message whose inner length passes its own end but not the file's.
        var piece = ProtoWriter(); piece.key(1, 2); piece.raw([10, 0x41])
        var root = ProtoWriter(); root.message(1, piece); root.raw([UInt8](repeating: 0, count: 20))
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces[0]", problemContains: "past the end") {
            _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
        }
        var fixed = ProtoWriter(); fixed.key(2, 5); fixed.raw([0, 0])
        var root2 = ProtoWriter(); root2.message(1, fixed)
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces[0]", problemContains: "fixed32") {
            _ = try SentencePieceModel.parse(root2.bytes, file: "t.model")
        }
    }

    func testGroupsAndInvalidWireTypesAreRejected() {
        for wire in [3, 4, 6, 7] {
            var root = ProtoWriter(); root.key(9, wire)
            assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto field 9", problemContains: "wire type") {
                _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
            }
        }
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto", problemContains: "field number 0") {
            _ = try SentencePieceModel.parse([0x00, 0x00], file: "t.model")
        }
    }

    func testWireTypeMismatchOnAKnownField() {
        var piece = ProtoWriter(); piece.string(1, "x"); piece.varint(2, 5)   // score as a varint
        var root = ProtoWriter(); root.message(1, piece)
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces[0] field 2", problemContains: "wire type 0") {
            _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
        }
    }

    func testNotUnigramNamesTheModelType() {
        for (type, name): (Int64, String) in [(2, "BPE"), (3, "WORD"), (4, "CHAR"), (9, "model_type 9")] {
            let model = Self.smallModel(modelType: type)
            let error = assertConversionError(.notUnigram, fieldContains: "trainer_spec.model_type", problemContains: name) {
                _ = try SentencePieceModel.parse(model.bytes, file: "bpe.model")
            }
            XCTAssertEqual(error?.file, "bpe.model")
        }
    }

    func testZeroPieces() {
        var trainer = ProtoWriter(); trainer.varint(3, 1)
        var root = ProtoWriter(); root.message(2, trainer)
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces", problemContains: "no pieces") {
            _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
        }
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces", problemContains: "no pieces") {
            _ = try SentencePieceModel.parse([], file: "empty.model")
        }
    }

    func testInvalidUTF8Piece() {
        var root = ProtoWriter()
        var unk = ProtoWriter(); unk.string(1, "<unk>"); unk.varint(3, 2); root.message(1, unk)
        var bad = ProtoWriter(); bad.bytes(1, [0x61, 0xC3]); root.message(1, bad)   // cut two-byte sequence
        assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces[1].piece", problemContains: "UTF-8") {
            _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
        }
        var root2 = ProtoWriter()
        root2.message(1, unk)
        var normalizer = ProtoWriter(); normalizer.bytes(1, [0xFF]); root2.message(3, normalizer)
        assertConversionError(.malformedSentencePiece, fieldContains: "normalizer_spec.name", problemContains: "UTF-8") {
            _ = try SentencePieceModel.parse(root2.bytes, file: "t.model")
        }
    }

    func testPieceTypeOutOfRange() {
        for type: Int64 in [0, 7, 300, -1] {
            var root = ProtoWriter()
            var piece = ProtoWriter(); piece.string(1, "x"); piece.varint(3, type); root.message(1, piece)
            assertConversionError(.malformedSentencePiece, fieldContains: "ModelProto.pieces[0].type", problemContains: "\(type)") {
                _ = try SentencePieceModel.parse(root.bytes, file: "t.model")
            }
        }
    }

    func testUnkIDOutOfRangeOrNotUnknown() {
        for unk: Int64 in [6, 100, -1] {
            let model = Self.smallModel(unkID: unk)
            assertConversionError(.malformedSentencePiece, fieldContains: "trainer_spec.unk_id", problemContains: "outside") {
                _ = try SentencePieceModel.parse(model.bytes, file: "t.model")
            }
        }
        let model = Self.smallModel(unkID: 1)
        assertConversionError(.malformedSentencePiece, fieldContains: "trainer_spec.unk_id", problemContains: "not UNKNOWN") {
            _ = try SentencePieceModel.parse(model.bytes, file: "t.model")
        }
    }

    // MARK: - Helpers

    private func piece(_ model: SentencePieceModel, _ id: Int) -> String {
        String(decoding: model.pieces[id].bytes, as: UTF8.self)
    }

    /// Six pieces; unknown fields of every wire type at each level; `escape_whitespaces` and
    /// `remove_extra_whitespaces` absent; NORMAL pieces with and without an explicit type.
    static func smallModel(modelType: Int64 = 1, unkID: Int64 = 0) -> ProtoWriter {
        var root = ProtoWriter()
        func piece(_ text: String, _ score: Float?, _ type: Int64?) -> ProtoWriter {
            var p = ProtoWriter()
            p.string(1, text)
            if let score { p.fixed32(2, score.bitPattern) }
            if let type { p.varint(3, type) }
            p.varint(15, 1)       // unknown varint inside a piece
            return p
        }
        root.varint(99, 42)                                     // unknown top-level fields first
        root.message(1, piece("<unk>", 0, 2))
        root.message(1, piece("<s>", nil, 3))
        root.message(1, piece("</s>", 0, 3))
        root.message(1, piece("\u{2581}a", -1.5, nil))
        root.message(1, piece("b", -2.25, 1))
        root.message(1, piece("<0x41>", 0, 6))
        var trainer = ProtoWriter()
        trainer.varint(3, modelType)
        trainer.varint(4, 6)
        trainer.fixed64(7, 0x1234)                              // unknown fixed64
        trainer.fixed32(8, 0x5678)                              // unknown fixed32
        trainer.string(9, "unknown string")                     // unknown length-delimited
        trainer.varint(24, 1)
        trainer.varint(35, 1)
        trainer.varint(40, unkID)
        trainer.varint(41, 1)
        trainer.varint(42, 2)
        trainer.varint(43, -1)
        root.message(2, trainer)
        var normalizer = ProtoWriter()
        normalizer.string(1, "identity")
        normalizer.bytes(2, [1, 2, 3])
        normalizer.varint(3, 0)
        normalizer.string(6, "")
        root.message(3, normalizer)
        root.message(5, normalizer)                             // denormalizer_spec: ignored
        return root
    }
}

/// Protobuf wire-format writer for building test models.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ more: [UInt8]) { bytes += more }

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wire: Int) { rawVarint(UInt64(field << 3 | wire)) }

    /// int32/int64/enum/bool: negative numbers are sign-extended to 64 bits (10 bytes).
    mutating func varint(_ field: Int, _ value: Int64) {
        key(field, 0)
        rawVarint(UInt64(bitPattern: value))
    }

    mutating func fixed32(_ field: Int, _ value: UInt32) {
        key(field, 5)
        bytes += littleEndianBytes([value])
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        key(field, 1)
        bytes += littleEndianBytes([value])
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func message(_ field: Int, _ message: ProtoWriter) { bytes(field, message.bytes) }
}
