/// One turn of a conversation, as in Blender's `{"role": ..., "content": ...}`.
public struct Turn: Sendable, Equatable, Hashable {
    /// `"USER"` or `"ASSISTANT"` (exact, upper-case: Blender compares strings).
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func user(_ content: String) -> Turn { Turn(role: "USER", content: content) }
    public static func assistant(_ content: String) -> Turn { Turn(role: "ASSISTANT", content: content) }
}

/// The `compare_conversations` template applied to two conversations (Formats/pairrm-model.md §2.5).
public struct ConversationPair: Sendable, Equatable {
    /// Blender's fixed instruction, typo ("coversation") included.
    public static let instruction = "Finish the following coversation in each i-th turn by filling in <Response i> with your response."

    public var instruction: String
    /// `"\n".join("USER: " + U_t + "\nAssistant: <Response t>")`.
    public var input: String
    /// `"\n".join("<Response t>: " + A_t)` for conversation A and B.
    public var candidateA: String
    public var candidateB: String

    /// Validates like Blender, in its order: per conversation (A then B) even turn count,
    /// USER on even turns, ASSISTANT on odd turns; then equal lengths; then identical USER turns.
    public init(_ a: [Turn], _ b: [Turn]) throws {
        for (name, conversation) in [("a", a), ("b", b)] {
            guard conversation.count % 2 == 0 else {
                throw PairRMError(.invalidConversation, field: name,
                                  problem: "\(conversation.count) turns; each conversation must have even number of turns",
                                  fix: "alternate USER and ASSISTANT turns, ending with an ASSISTANT turn")
            }
            // Blender asserts all even turns first, then all odd turns.
            for index in Array(stride(from: 0, to: conversation.count, by: 2)) + Array(stride(from: 1, to: conversation.count, by: 2)) {
                let turn = conversation[index]
                let expected = index % 2 == 0 ? "USER" : "ASSISTANT"
                guard turn.role == expected else {
                    throw PairRMError(.invalidConversation, field: "\(name)[\(index)].role",
                                      problem: "is \"\(turn.role)\"; each \(index % 2 == 0 ? "even" : "odd") turn must be \(expected)",
                                      fix: "use the exact upper-case roles \"USER\" and \"ASSISTANT\", USER first")
                }
            }
        }
        guard a.count == b.count else {
            throw PairRMError(.invalidConversation, field: "b", problem: "\(b.count) turns against \(a.count) in a; number of turns in each conversation must be the same",
                              fix: "compare conversations of the same length")
        }
        for index in stride(from: 0, to: a.count, by: 2) where a[index].content != b[index].content {
            throw PairRMError(.invalidConversation, field: "b[\(index)].content", problem: "USER turns must be the same in both conversations",
                              fix: "compare two answers to the same USER turns")
        }
        func responses(_ turns: [Turn]) -> String {
            stride(from: 1, to: turns.count, by: 2).map { "<Response \($0 / 2 + 1)>: " + turns[$0].content }.joined(separator: "\n")
        }
        instruction = Self.instruction
        input = stride(from: 0, to: a.count, by: 2).map { "USER: " + a[$0].content + "\nAssistant: <Response \($0 / 2 + 1)>" }
            .joined(separator: "\n")
        candidateA = responses(a)
        candidateB = responses(b)
    }
}

extension PairRanker {
    /// Blender's `compare_conversations([a], [b], mode:)`: the template of Formats/pairrm-model.md
    /// §2.5, then `compare`.
    public func compareConversations(_ a: [Turn], _ b: [Turn], mode: CompareMode = .both,
                                     options: RankerOptions? = nil) throws -> Comparison {
        let pair = try ConversationPair(a, b)
        return try compare(pair.input, pair.candidateA, pair.candidateB, instruction: pair.instruction, mode: mode, options: options)
    }
}
