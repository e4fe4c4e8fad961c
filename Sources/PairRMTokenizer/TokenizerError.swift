/// Why a vocabulary could not become a tokenizer, or why a request cannot be served.
/// Each error names the offending field and says how to fix it, because the usual cause is a
/// converter bug or a hand-edited file, and the message is all the user gets.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// A table in the vocabulary is structurally broken (bad size, offset out of range...).
        case malformed
        /// Something the tokenizer needs is absent (an added token, the unknown piece...).
        case missing
        /// The file asks for a feature this implementation deliberately does not support.
        case unsupported
        /// A caller-supplied argument is out of range.
        case invalidArgument
    }

    public let kind: Kind
    /// The field at fault, e.g. `CMAP.trie_size` or `addedTokens[3].singleWord`.
    public let field: String
    public let problem: String
    public let fix: String

    public init(_ kind: Kind, field: String, problem: String, fix: String) {
        self.kind = kind
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String { "tokenizer: \(field): \(problem) (\(kind.rawValue)); fix: \(fix)" }
}
