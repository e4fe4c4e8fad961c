/// How the inputs of each encoder matrix kind are quantized when its weights are Q8_P16B32:
/// int16 rows (the faithful `q8` recipe) or int8 rows (the faster W8A8 `q8a8` recipe, twice the
/// integer rate on VNNI and dotprod). Read from the file's `quantization.activations` metadata
/// (Formats/prm-v1.md §4); a file without it is all int16, as every file before the key was.
public struct ActivationPlan: Sendable, Equatable {
    /// The GEMMs of one layer, by the input they read.
    public enum Matrix: String, Sendable, CaseIterable {
        /// query/key/value projections (they share one quantized input)
        case attentionInput = "attention_input"
        /// attention.output.dense
        case attentionOutput = "attention_output"
        /// intermediate.dense
        case ffnInput = "ffn_input"
        /// output.dense (reads GELU's output, whose long tail int8 rows resolve worst)
        case ffnOutput = "ffn_output"
    }

    public enum Width: String, Sendable {
        case int16 = "INT16"
        case int8 = "INT8"
    }

    /// Every matrix kind's width (kinds not given are int16).
    public private(set) var widths: [Matrix: Width]

    public init(_ widths: [Matrix: Width]) {
        self.widths = Dictionary(uniqueKeysWithValues: Matrix.allCases.map { ($0, widths[$0] ?? .int16) })
    }

    /// Every matrix with the same width.
    public static func all(_ width: Width) -> ActivationPlan {
        ActivationPlan(Dictionary(uniqueKeysWithValues: Matrix.allCases.map { ($0, width) }))
    }

    public func width(of matrix: Matrix) -> Width { widths[matrix] ?? .int16 }

    public static let metadataKey = "quantization.activations"

    /// `"<matrix>=<INT16|INT8>"` rules in `Matrix` order, as the converter records them.
    public var rules: [String] { Matrix.allCases.map { "\($0.rawValue)=\(width(of: $0).rawValue)" } }

    /// Parses rules such as `["attention_input=INT8", "ffn_output=INT16"]` (unnamed matrices: int16).
    /// - Throws: a message naming the rule that does not parse.
    public init(rules: [String]) throws(PlanError) {
        var widths: [Matrix: Width] = [:]
        for rule in rules {
            let parts = rule.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let matrix = Matrix(rawValue: parts[0]), let width = Width(rawValue: parts[1].uppercased()) else {
                throw PlanError(rule: rule)
            }
            widths[matrix] = width
        }
        self.init(widths)
    }

    public struct PlanError: Error, CustomStringConvertible, Sendable {
        public var rule: String
        public var description: String {
            "\"\(rule)\" is not <matrix>=<INT16|INT8> with matrix one of "
                + Matrix.allCases.map(\.rawValue).joined(separator: ", ")
        }
    }
}
