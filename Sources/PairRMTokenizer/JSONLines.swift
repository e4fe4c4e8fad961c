import PairRMFormat

extension TokenizerSettings {
    /// The settings a `.prm` file records (Formats/prm-v1.md §4): `tokenizer.add_dummy_prefix`,
    /// `tokenizer.remove_extra_whitespaces`, `tokenizer.escape_whitespaces`,
    /// `tokenizer.byte_fallback`, `tokens.unk_id`; an absent key keeps the DeBERTa-v3 default.
    public init(metadata: Metadata) {
        let d = TokenizerSettings.debertaV3
        self.init(addDummyPrefix: metadata.bool("tokenizer.add_dummy_prefix") ?? d.addDummyPrefix,
                  removeExtraWhitespaces: metadata.bool("tokenizer.remove_extra_whitespaces") ?? d.removeExtraWhitespaces,
                  escapeWhitespaces: metadata.bool("tokenizer.escape_whitespaces") ?? d.escapeWhitespaces,
                  byteFallback: metadata.bool("tokenizer.byte_fallback") ?? d.byteFallback,
                  unknownID: metadata.int("tokens.unk_id").map { Int($0) })
    }
}

/// One input line → one JSON output line, for `pairrm tokenize`: the input is either a JSON
/// object with a string `"text"` (and optionally `"id"`, any JSON value, copied verbatim to the
/// output) or, in plain mode, the line itself. The output is
/// `{"id": …, "ids": [...], "pieces": [...]}` (`"id"` only if given; `"pieces"` optional).
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
    }

    /// The output line for `line` (without its terminating newline; a trailing `\r` is ignored),
    /// including the final `\n`.
    public func process(_ line: UnsafeBufferPointer<UInt8>) -> Result<[UInt8], LineError> {
        var end = line.count
        if end > 0, line[end - 1] == 0x0D { end -= 1 }
        let body = UnsafeBufferPointer(rebasing: line[0..<end])
        var out: [UInt8] = []
        out.reserveCapacity(64 + body.count * (includePieces ? 6 : 3))
        let ids: [Int32]
        if plain {
            ids = tokenizer.encode(bytes: body, mode: mode)
            out.append(contentsOf: "{".utf8)
        } else {
            var parser = JSONParser(body)
            let fields: JSONParser.Fields
            do { fields = try parser.parseTopLevelObject() } catch { return .failure(error) }
            guard let text = fields.text else {
                return .failure(LineError(message: fields.textWasNotString ? "\"text\" is not a string" : "no \"text\" field"))
            }
            ids = text.withUnsafeBufferPointer { tokenizer.encode(bytes: $0, mode: mode) }
            out.append(contentsOf: "{".utf8)
            if let id = fields.idRaw {
                out.append(contentsOf: "\"id\": ".utf8)
                out.append(contentsOf: body[id])
                out.append(contentsOf: ", ".utf8)
            }
        }
        out.append(contentsOf: "\"ids\": [".utf8)
        for (k, id) in ids.enumerated() {
            if k > 0 { out.append(contentsOf: ", ".utf8) }
            out.append(contentsOf: String(id).utf8)
        }
        out.append(UInt8(ascii: "]"))
        if includePieces {
            out.append(contentsOf: ", \"pieces\": [".utf8)
            for (k, id) in ids.enumerated() {
                if k > 0 { out.append(contentsOf: ", ".utf8) }
                JSONParser.appendString(tokenizer.token(for: id) ?? [], to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: "}\n".utf8)
        return .success(out)
    }

    public func process(_ line: [UInt8]) -> Result<[UInt8], LineError> {
        line.withUnsafeBufferPointer { process($0) }
    }
}

/// A strict RFC 8259 parser for one top-level object, keeping only what `pairrm tokenize` needs:
/// the decoded `"text"` string and the byte range of the `"id"` value. Everything else is
/// validated and skipped. Duplicate keys: the last one wins (as in Python's `json`).
struct JSONParser {
    struct Fields {
        var text: [UInt8]?
        var textWasNotString = false
        var idRaw: Range<Int>?
    }

    let p: UnsafeBufferPointer<UInt8>
    var i = 0
    var depth = 0
    static let maxDepth = 512

    init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

    typealias LineError = JSONLineTokenizer.LineError

    private func fail(_ what: String) -> LineError {
        LineError(message: "invalid JSON at byte \(i + 1): \(what)")
    }

    private mutating func skipSpace() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0A || p[i] == 0x0D { i += 1 }
    }

    mutating func parseTopLevelObject() throws(LineError) -> Fields {
        skipSpace()
        guard i < p.count else { throw LineError(message: "empty line (expected a JSON object with a \"text\" field)") }
        guard p[i] == UInt8(ascii: "{") else { throw fail("expected a JSON object ('{')") }
        i += 1
        var fields = Fields()
        skipSpace()
        if i < p.count, p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipSpace()
                guard i < p.count, p[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                let valueStart = i
                if key == Array("text".utf8) {
                    if i < p.count, p[i] == UInt8(ascii: "\"") {
                        fields.text = try parseString()
                        fields.textWasNotString = false
                    } else {
                        try skipValue()
                        fields.text = nil
                        fields.textWasNotString = true
                    }
                } else {
                    try skipValue()
                    if key == Array("id".utf8) { fields.idRaw = valueStart..<i }
                }
                skipSpace()
                guard i < p.count else { throw fail("unterminated object") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipSpace()
        guard i == p.count else { throw fail("unexpected data after the object") }
        return fields
    }

    private mutating func skipValue() throws(LineError) {
        guard i < p.count else { throw fail("expected a value") }
        switch p[i] {
        case UInt8(ascii: "\""): _ = try parseString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = p[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            depth += 1
            guard depth <= Self.maxDepth else { throw fail("nested too deeply") }
            i += 1
            skipSpace()
            if i < p.count, p[i] == close { i += 1; depth -= 1; return }
            while true {
                skipSpace()
                if isObject {
                    guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    _ = try parseString()
                    skipSpace()
                    guard i < p.count, p[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                }
                try skipValue()
                skipSpace()
                guard i < p.count else { throw fail("unterminated \(isObject ? "object" : "array")") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == close { i += 1; break }
                throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
            depth -= 1
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: String) throws(LineError) {
        for b in word.utf8 {
            guard i < p.count, p[i] == b else { throw fail("invalid literal (expected \(word))") }
            i += 1
        }
    }

    private mutating func skipNumber() throws(LineError) {
        func digits() -> Int { let s = i; while i < p.count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }; return i - s }
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < p.count else { throw fail("invalid number") }
        if p[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { throw fail("invalid number") }
        if i < p.count, p[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw fail("invalid number") }
        }
        if i < p.count, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            i += 1
            if i < p.count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("invalid number") }
        }
    }

    /// Parses the string at `i` (which is '"'); returns its UTF-8. A lone surrogate escape
    /// becomes U+FFFD; raw control characters and malformed UTF-8 are errors.
    private mutating func parseString() throws(LineError) -> [UInt8] {
        i += 1
        var out: [UInt8] = []
        while true {
            let start = i
            while i < p.count, p[i] != UInt8(ascii: "\""), p[i] != UInt8(ascii: "\\"), p[i] >= 0x20 { i += 1 }
            if i > start {
                let run = UnsafeBufferPointer(rebasing: p[start..<i])
                guard UTF8Scan.isValid(run) else { throw fail("malformed UTF-8 in a string") }
                out.append(contentsOf: run)
            }
            guard i < p.count else { throw fail("unterminated string") }
            let b = p[i]
            if b == UInt8(ascii: "\"") { i += 1; return out }
            if b < 0x20 { throw fail("raw control character in a string (escape it)") }
            // Backslash escape.
            i += 1
            guard i < p.count else { throw fail("unterminated escape") }
            let e = p[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate: combine with a following \uDC00–\uDFFF, else U+FFFD.
                    if i + 1 < p.count, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            scalar = 0xFFFD
                            i = save
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    scalar = 0xFFFD
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
    }

    private mutating func hex4() throws(LineError) -> UInt32 {
        guard i + 4 <= p.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Appends `bytes` as a JSON string: `"` and `\` escaped, control characters as `\u00XX`,
    /// malformed UTF-8 bytes as U+FFFD (each).
    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(0x22)
        let hex = Array("0123456789abcdef".utf8)
        bytes.withUnsafeBufferPointer { p in
            var k = 0
            while k < p.count {
                let b = p[k]
                if b < 0x80 {
                    switch b {
                    case 0x22: out.append(0x5C); out.append(0x22)
                    case 0x5C: out.append(0x5C); out.append(0x5C)
                    case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                    case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                    case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                    case 0..<0x20, 0x7F:
                        out.append(contentsOf: "\\u00".utf8)
                        out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
                    default: out.append(b)
                    }
                    k += 1
                } else if let (_, len) = UTF8Scan.decode(p, at: k) {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: p[k..<(k + len)]))
                    k += len
                } else {
                    out.append(contentsOf: UTF8Scan.replacementCharacter)
                    k += 1
                }
            }
        }
        out.append(0x22)
    }
}
