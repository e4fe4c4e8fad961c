import Foundation
import PairRMProtocol
import PairRMTestSupport
import PairRMTokenizer
import XCTest
@testable import PairRM

/// The line processing behind `pairrm tokenize` (the CLI itself is a thin loop around it).
final class TokenizeLinesTests: XCTestCase {
    private func run(_ lines: JSONLineTokenizer, _ text: String) -> Result<String, JSONLineTokenizer.LineError> {
        lines.process(Array(text.utf8))
    }

    func testOutputShapeAndIDPassThrough() throws {
        let t = try TestSupport.ranker().tokenizer
        let lines = JSONLineTokenizer(tokenizer: t)
        func expected(_ text: String, id: String? = nil, mode: TokenizerMode = .pairRM, pieces: Bool = true) -> String {
            let ids = t.encode(text, mode: mode)
            var members: [(String, JSONValue)] = []
            if let id { members.append(("id", try! JSONValue.parse(id))) }
            members.append(("ids", .array(ids.map { .number(Int($0)) })))
            if pieces { members.append(("pieces", .array(ids.map { .string(String(decoding: t.token(for: $0) ?? [], as: UTF8.self)) }))) }
            return JSONValue.object(members).serialized + "\n"
        }
        XCTAssertEqual(try run(lines, #"{"id": 7, "text": "Hello world"}"#).get(), expected("Hello world", id: "7"))
        // Any JSON id is echoed (numbers keep their source text); other fields are ignored.
        XCTAssertEqual(try run(lines, #"{"text": "x [SEP] y", "id": {"a": [1, "b", null, -1.5e3]}}"#).get(),
                       expected("x [SEP] y", id: #"{"a":[1,"b",null,-1.5e3]}"#))
        XCTAssertTrue(try run(lines, #"{"text": "x [SEP] y", "id": {"a": [1, "b", null, -1.5e3]}}"#).get()
                      .hasPrefix(#"{"id":{"a":[1,"b",null,-1.5e3]},"ids":["#))
        // Escapes, surrogate pairs, CRLF line ending.
        XCTAssertEqual(try run(lines, "{\"extra\": [true, false], \"text\": \"caf\\u00e9 \\ud83d\\ude00\"}\r").get(), expected("café 😀"))
        let noPieces = JSONLineTokenizer(tokenizer: t, mode: .sentencePiece, includePieces: false)
        XCTAssertEqual(try run(noPieces, #"{"text": "𪚥"}"#).get(), expected("𪚥", mode: .sentencePiece, pieces: false))
        let plain = JSONLineTokenizer(tokenizer: t, plain: true)
        XCTAssertEqual(try run(plain, #"{"text": 1}"#).get(), expected(#"{"text": 1}"#))
        XCTAssertEqual(try run(plain, "").get(), "{\"ids\":[],\"pieces\":[]}\n")
        // The output is JSON that Foundation reads back to the same ids.
        let out = try run(lines, #"{"text": "a \"quoted\" line\twith\ttabs"}"#).get()
        let object = try FixtureObject(json: out, name: "tokenize output")
        XCTAssertEqual(try object.int32s("ids"), t.encode("a \"quoted\" line\twith\ttabs"))
    }

    func testBadLines() throws {
        let lines = JSONLineTokenizer(tokenizer: try TestSupport.ranker().tokenizer)
        for bad in ["", "not json", "[1]", "{\"id\": 3}", "{\"text\": 5}", "{\"text\": \"a\"} x", "{\"text\": \"a\"",
                    "{\"text\": \"\\x\"}", "{\"text\": \"a\", }", "{\"text\": \"tab\there\"}", "{\"text\": \"a\", \"id\": 01}"] {
            if case .success(let out) = run(lines, bad) { XCTFail("accepted \(bad.debugDescription): \(out)") }
        }
        if case .failure(let e) = run(lines, "{\"id\": 3}") { XCTAssertTrue(e.message.contains("text"), e.message) }
    }
}
