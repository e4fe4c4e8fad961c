import PairRM
import PairRMTokenizer

/// One input line → one JSON output line, for `pairrm tokenize`: the input is either a JSON
/// object with a string `"text"` (and optionally `"id"`, any JSON value, echoed back) or, in plain
/// mode, the line itself. The output is `{"id":…,"ids":[…],"pieces":[…]}` (`"id"` only if given;
/// `"pieces"` optional).
public struct JSONLineTokenizer: Sendable {
    public let tokenizer: Tokenizer
    public var mode: TokenizerMode
    public var includePieces: Bool
    public var plain: Bool

    public init(tokenizer: Tokenizer, mode: TokenizerMode = .pairRM, includePieces: Bool = true, plain: Bool = false) {
        self.tokenizer = tokenizer
        self.mode = mode
        self.includePieces = includePieces
        self.plain = plain
    }

    /// What is wrong with an input line (the caller adds the line number).
    public struct LineError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    /// The output line for `line` (without its newline; a trailing `\r` is ignored), ending in `\n`.
    public func process(_ line: [UInt8]) -> Result<String, LineError> {
        let body = line.last == 0x0D ? Array(line.dropLast()) : line
        var members: [(String, JSONValue)] = []
        let ids: [Int32]
        if plain {
            ids = body.withUnsafeBufferPointer { tokenizer.encode(bytes: $0, mode: mode) }
        } else {
            let value: JSONValue
            do { value = try JSONValue.parse(body) } catch { return .failure(LineError(message: "\(error)")) }
            guard case .object = value else { return .failure(LineError(message: "the line is \(value.kindName), not a JSON object")) }
            guard let textValue = value["text"] else { return .failure(LineError(message: "no \"text\" field")) }
            guard case .string(let text) = textValue else { return .failure(LineError(message: "\"text\" is \(textValue.kindName), not a string")) }
            ids = tokenizer.encode(text, mode: mode)
            if let id = value["id"] { members.append(("id", id)) }
        }
        members.append(("ids", .array(ids.map { .number(Int($0)) })))
        if includePieces {
            members.append(("pieces", .array(ids.map { .string(String(decoding: tokenizer.token(for: $0) ?? [], as: UTF8.self)) })))
        }
        return .success(JSONValue.object(members).serialized + "\n")
    }
}
