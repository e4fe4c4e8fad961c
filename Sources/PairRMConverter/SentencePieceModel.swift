/// The parts of a SentencePiece `spm.model` (a serialized protobuf-2 `ModelProto`,
/// google/sentencepiece `src/sentencepiece_model.proto`) that encoding depends on.
/// Proto2 defaults matter: NORMAL pieces omit `type`, and the DeBERTa-v3 model omits
/// `escape_whitespaces`, so absent fields take the .proto defaults below.
public struct SentencePieceModel: Sendable {
    public enum PieceType: UInt8, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public struct Piece: Sendable {
        /// UTF-8 bytes, kept as bytes: Swift `String ==` is canonical equivalence, which would
        /// merge distinct pieces.
        public var bytes: [UInt8]
        public var score: Float
        public var type: PieceType
    }

    public var pieces: [Piece] = []
    /// trainer_spec.model_type (3): UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4.
    public var modelType: Int32 = 1
    public var vocabSize: Int32?
    public var byteFallback = false
    public var unkID: Int32 = 0
    public var bosID: Int32 = 1
    public var eosID: Int32 = 2
    public var padID: Int32 = -1
    public var treatWhitespaceAsSuffix = false
    public var normalizerName = ""
    public var precompiledCharsmap: [UInt8] = []
    public var addDummyPrefix = true
    public var removeExtraWhitespaces = true
    public var escapeWhitespaces = true

    public static func parse(_ bytes: [UInt8], file: String) throws -> SentencePieceModel {
        var model = SentencePieceModel()
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = ProtobufReader(buffer: buffer, start: 0, end: buffer.count, file: file, message: "ModelProto")
            while let (field, wire) = try reader.nextField() {
                switch field {
                case 1:
                    var sub = try reader.subMessage(field: field, wire: wire, name: "ModelProto.pieces[\(model.pieces.count)]")
                    model.pieces.append(try parsePiece(&sub, index: model.pieces.count))
                case 2:
                    var sub = try reader.subMessage(field: field, wire: wire, name: "ModelProto.trainer_spec")
                    try parseTrainerSpec(&sub, into: &model)
                case 3:
                    var sub = try reader.subMessage(field: field, wire: wire, name: "ModelProto.normalizer_spec")
                    try parseNormalizerSpec(&sub, into: &model)
                default:
                    try reader.skip(wire: wire, field: field)
                }
            }
        }
        try model.validate(file: file)
        return model
    }

    private static func parsePiece(_ reader: inout ProtobufReader, index: Int) throws -> Piece {
        var piece = Piece(bytes: [], score: 0, type: .normal)
        while let (field, wire) = try reader.nextField() {
            switch field {
            case 1:
                let bytes = try reader.lengthDelimited(field: field, wire: wire)
                guard String(validating: bytes, as: UTF8.self) != nil else {
                    throw reader.error(.malformedSentencePiece, "ModelProto.pieces[\(index)].piece", "the piece is not valid UTF-8",
                                       fix: "the model file is corrupt; download spm.model again")
                }
                piece.bytes = Array(bytes)
            case 2:
                piece.score = Float(bitPattern: try reader.fixed32(field: field, wire: wire))
            case 3:
                let raw = try reader.int32(field: field, wire: wire)
                guard let type = UInt8(exactly: raw).flatMap(PieceType.init(rawValue:)) else {
                    throw reader.error(.malformedSentencePiece, "ModelProto.pieces[\(index)].type",
                                       "type \(raw) is not a SentencePiece piece type (1...6)",
                                       fix: "the model file is corrupt or from an unsupported SentencePiece version")
                }
                piece.type = type
            default:
                try reader.skip(wire: wire, field: field)
            }
        }
        return piece
    }

    private static func parseTrainerSpec(_ reader: inout ProtobufReader, into model: inout SentencePieceModel) throws {
        while let (field, wire) = try reader.nextField() {
            switch field {
            case 3: model.modelType = try reader.int32(field: field, wire: wire)
            case 4: model.vocabSize = try reader.int32(field: field, wire: wire)
            case 24: model.treatWhitespaceAsSuffix = try reader.bool(field: field, wire: wire)
            case 35: model.byteFallback = try reader.bool(field: field, wire: wire)
            case 40: model.unkID = try reader.int32(field: field, wire: wire)
            case 41: model.bosID = try reader.int32(field: field, wire: wire)
            case 42: model.eosID = try reader.int32(field: field, wire: wire)
            case 43: model.padID = try reader.int32(field: field, wire: wire)
            default: try reader.skip(wire: wire, field: field)
            }
        }
    }

    private static func parseNormalizerSpec(_ reader: inout ProtobufReader, into model: inout SentencePieceModel) throws {
        while let (field, wire) = try reader.nextField() {
            switch field {
            case 1:
                let bytes = try reader.lengthDelimited(field: field, wire: wire)
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    throw reader.error(.malformedSentencePiece, "ModelProto.normalizer_spec.name", "the name is not valid UTF-8",
                                       fix: "the model file is corrupt; download spm.model again")
                }
                model.normalizerName = name
            case 2: model.precompiledCharsmap = Array(try reader.lengthDelimited(field: field, wire: wire))
            case 3: model.addDummyPrefix = try reader.bool(field: field, wire: wire)
            case 4: model.removeExtraWhitespaces = try reader.bool(field: field, wire: wire)
            case 5: model.escapeWhitespaces = try reader.bool(field: field, wire: wire)
            default: try reader.skip(wire: wire, field: field)
            }
        }
    }

    private func validate(file: String) throws {
        func fail(_ kind: ConversionError.Kind, _ field: String, _ problem: String, _ fix: String) -> ConversionError {
            ConversionError(kind, file: file, field: field, problem: problem, fix: fix)
        }
        guard modelType == 1 else {
            let names: [Int32: String] = [2: "BPE", 3: "WORD", 4: "CHAR"]
            let described = names[modelType].map { "a \($0) model (model_type \(modelType))" } ?? "model_type \(modelType), which is not a known SentencePiece model type"
            throw fail(.notUnigram, "ModelProto.trainer_spec.model_type",
                       "this is \(described); only UNIGRAM (1) models are supported",
                       "use the DeBERTa-v3 spm.model shipped with PairRM")
        }
        guard !pieces.isEmpty else {
            throw fail(.malformedSentencePiece, "ModelProto.pieces", "the model has no pieces",
                       "the model file is empty or corrupt; download spm.model again")
        }
        guard unkID >= 0, Int(unkID) < pieces.count else {
            throw fail(.malformedSentencePiece, "ModelProto.trainer_spec.unk_id",
                       "unk_id \(unkID) is outside the \(pieces.count) pieces",
                       "the model file is corrupt; download spm.model again")
        }
        guard pieces[Int(unkID)].type == .unknown else {
            throw fail(.malformedSentencePiece, "ModelProto.trainer_spec.unk_id",
                       "piece \(unkID) ('\(String(decoding: pieces[Int(unkID)].bytes, as: UTF8.self))') is \(pieces[Int(unkID)].type), not UNKNOWN",
                       "the model file is corrupt; download spm.model again")
        }
    }
}

/// A protobuf wire-format reader over one message's byte range. Every read is bounds-checked
/// and a sub-message gets a reader limited to its own length, so a corrupt length can never
/// reach outside its parent.
struct ProtobufReader {
    let buffer: UnsafeBufferPointer<UInt8>
    private(set) var position: Int
    let end: Int
    let file: String
    /// Dotted path of this message, for errors: "ModelProto.pieces[12]".
    let message: String
    private var fieldStart: Int

    init(buffer: UnsafeBufferPointer<UInt8>, start: Int, end: Int, file: String, message: String) {
        self.buffer = buffer
        position = start
        fieldStart = start
        self.end = end
        self.file = file
        self.message = message
    }

    /// The next (field number, wire type), or nil at the end of the message.
    mutating func nextField() throws -> (Int, Int)? {
        guard position < end else { return nil }
        fieldStart = position
        let key = try varint()
        let wire = Int(key & 7)
        let field = key >> 3
        guard field > 0, field <= 536_870_911 else {
            throw error(.malformedSentencePiece, "\(message) (byte \(fieldStart))", "invalid field number \(field)",
                        fix: "the model file is corrupt; download spm.model again")
        }
        return (Int(field), wire)
    }

    mutating func skip(wire: Int, field: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: try advance(8, field: field)
        case 2: _ = try lengthDelimited(field: field, wire: wire)
        case 5: try advance(4, field: field)
        case 3, 4:
            throw error(.malformedSentencePiece, "\(message) field \(field) (byte \(fieldStart))",
                        "protobuf groups (wire type \(wire)) are not used by SentencePiece models",
                        fix: "the model file is corrupt or not a SentencePiece model")
        default:
            throw error(.malformedSentencePiece, "\(message) field \(field) (byte \(fieldStart))",
                        "invalid wire type \(wire)", fix: "the model file is corrupt or not a SentencePiece model")
        }
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        for index in 0..<10 {
            guard position < end else { throw truncated("a varint") }
            let byte = buffer[position]
            position += 1
            result |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            if byte & 0x80 == 0 { return result }
        }
        throw error(.malformedSentencePiece, "\(message) (byte \(fieldStart))", "a varint is longer than 10 bytes",
                    fix: "the model file is corrupt; download spm.model again")
    }

    mutating func lengthDelimited(field: Int, wire: Int) throws -> UnsafeBufferPointer<UInt8> {
        try expect(wire: wire, 2, field: field)
        let length = try varint()
        guard length <= UInt64(end - position) else { throw truncated("field \(field) (\(length) bytes)") }
        let start = position
        position += Int(length)
        return UnsafeBufferPointer(rebasing: buffer[start..<position])
    }

    mutating func subMessage(field: Int, wire: Int, name: String) throws -> ProtobufReader {
        let bytes = try lengthDelimited(field: field, wire: wire)
        let start = position - bytes.count
        return ProtobufReader(buffer: buffer, start: start, end: position, file: file, message: name)
    }

    mutating func fixed32(field: Int, wire: Int) throws -> UInt32 {
        try expect(wire: wire, 5, field: field)
        guard end - position >= 4 else { throw truncated("field \(field) (fixed32)") }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(buffer[position + index]) << (8 * UInt32(index)) }
        position += 4
        return value
    }

    /// int32 and enums: negative values are sign-extended to 10-byte varints on the wire,
    /// so truncating to 32 bits recovers them.
    mutating func int32(field: Int, wire: Int) throws -> Int32 {
        try expect(wire: wire, 0, field: field)
        return Int32(truncatingIfNeeded: try varint())
    }

    mutating func bool(field: Int, wire: Int) throws -> Bool {
        try expect(wire: wire, 0, field: field)
        return try varint() != 0
    }

    private mutating func advance(_ count: Int, field: Int) throws {
        guard end - position >= count else { throw truncated("field \(field)") }
        position += count
    }

    private func expect(wire: Int, _ expected: Int, field: Int) throws {
        guard wire == expected else {
            throw error(.malformedSentencePiece, "\(message) field \(field) (byte \(fieldStart))",
                        "wire type \(wire) where the schema says \(expected)",
                        fix: "the model file is corrupt or not a SentencePiece model")
        }
    }

    private func truncated(_ what: String) -> ConversionError {
        error(.malformedSentencePiece, "\(message) (byte \(fieldStart))", "\(what) extends past the end of the message",
              fix: "the model file is truncated; download spm.model again")
    }

    func error(_ kind: ConversionError.Kind, _ field: String, _ problem: String, fix: String) -> ConversionError {
        ConversionError(kind, file: file, field: field, problem: problem, fix: fix)
    }
}
