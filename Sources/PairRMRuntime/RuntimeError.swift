import PairRMFormat

/// Why a model cannot be loaded or an input cannot be scored.
public struct RuntimeError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable { case unsupportedModel, missingTensor, wrongTensor, badInput }
    public var kind: Kind
    public var file: String
    public var field: String
    public var problem: String
    public var fix: String

    public init(_ kind: Kind, file: String, field: String, problem: String, fix: String) {
        self.kind = kind
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "\(file): \(field): \(problem) — \(fix)" }
}
