/// Why a PairRM call cannot run: what was wrong and how to fix it.
public struct PairRMError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// An argument is outside what the call accepts (empty candidate list, bad permutation...).
        case invalidArgument
        /// A conversation breaks the `compare_conversations` rules (Formats/pairrm-model.md §2.5).
        case invalidConversation
        /// A text is longer than its token budget and the options ask to reject rather than truncate.
        case inputTooLong
        /// The model file lacks something the ranker needs.
        case unsupportedModel
        /// The model produced a NaN or infinite logit (broken weights or metadata).
        case nonFiniteResult
    }

    public var kind: Kind
    /// The argument or field at fault, e.g. `candidates`, `a[1].role`.
    public var field: String
    public var problem: String
    public var fix: String

    public init(_ kind: Kind, field: String, problem: String, fix: String) {
        self.kind = kind
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "\(field): \(problem) — \(fix)" }
}

/// The error of one item of a batched call, with the item's index (0-based).
public struct BatchItemError: Error, CustomStringConvertible, Sendable {
    public var index: Int
    public var underlying: any Error

    public init(index: Int, underlying: any Error) {
        self.index = index
        self.underlying = underlying
    }

    public var description: String { "item \(index): \(underlying)" }
}
