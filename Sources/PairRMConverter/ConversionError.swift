/// Every way a conversion can fail, each carrying enough to act on: which file, which field
/// (tensor name, JSON key, byte offset...), what was wrong and how to fix it.
public struct ConversionError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case missingFile, ambiguousFiles, unreadableFile
        case malformedJSON, configMismatch, unsupportedConfig
        case malformedSafetensors, malformedTorchCheckpoint, unsafePickle
        case unknownDType, wrongShape, missingTensor, unexpectedTensor
        case offsetOutOfRange, nonFiniteWeight
        case malformedSentencePiece, notUnigram
        case malformedTokenizerFile
        case outputFailed
    }
    public var kind: Kind
    /// The input file the problem is in (path as given by the user).
    public var file: String
    /// The field inside the file: a tensor name, a JSON key, a protobuf field, a byte offset.
    public var field: String
    /// What is wrong, in one sentence.
    public var problem: String
    /// What the user can do about it.
    public var fix: String

    public init(_ kind: Kind, file: String, field: String, problem: String, fix: String) {
        self.kind = kind
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        "\(file): \(field): \(problem) — \(fix)"
    }
}
