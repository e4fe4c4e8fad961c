import XCTest
@testable import PairRMTokenizer

/// The line processing behind `pairrm tokenize` (the CLI itself is a thin loop around it).
final class JSONLinesTests: XCTestCase {
    private func run(_ lines: JSONLineTokenizer, _ text: String) -> Result<String, JSONLineTokenizer.LineError> {
        lines.process(Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    func testOutputShapeAndIDPassThrough() throws {
        let t = try Fixtures.real()
        let lines = JSONLineTokenizer(tokenizer: t)
        XCTAssertEqual(try run(lines, #"{"id": 7, "text": "Hello world"}"#).get(),
                       "{\"id\": 7, \"ids\": [5365, 447], \"pieces\": [\"▁Hello\", \"▁world\"]}\n")
        XCTAssertEqual(try run(lines, #"{"text": "x [SEP] y", "id": {"a": [1, "b", null, -1.5e3]}}"#).get(),
                       "{\"id\": {\"a\": [1, \"b\", null, -1.5e3]}, \"ids\": [1204, 2, 2982], \"pieces\": [\"▁x\", \"[SEP]\", \"▁y\"]}\n")
        // Escapes, surrogate pairs, CRLF line ending, other fields ignored.
        XCTAssertEqual(try run(lines, "{\"extra\": [true, false], \"text\": \"caf\\u00e9 \\ud83d\\ude00\"}\r").get(),
                       "{\"ids\": [15924, 54783], \"pieces\": [\"▁café\", \"▁😀\"]}\n")
        let noPieces = JSONLineTokenizer(tokenizer: t, mode: .sentencePiece, includePieces: false)
        XCTAssertEqual(try run(noPieces, #"{"text": "𪚥"}"#).get(), "{\"ids\": [507, 244, 174, 158, 169]}\n")
        let plain = JSONLineTokenizer(tokenizer: t, plain: true)
        XCTAssertEqual(try run(plain, #"{"text": 1}"#).get().hasPrefix("{\"ids\": ["), true)
        XCTAssertEqual(try run(plain, "").get(), "{\"ids\": [], \"pieces\": []}\n")
        // Every case text round-trips through JSON and gives the conformance ids.
        for c in try Fixtures.cases().prefix(400) {
            var json = [UInt8]("{\"text\": ".utf8)
            JSONParser.appendString(Array(c.text.utf8), to: &json)
            json.append(contentsOf: "}".utf8)
            let out = try lines.process(json).get()
            let object = try JSONSerialization.jsonObject(with: Data(out)) as! [String: Any]
            XCTAssertEqual((object["ids"] as! [Int]).map(Int32.init), c.hfExpected, c.id)
        }
    }

    func testBadLines() throws {
        let t = try Fixtures.real()
        let lines = JSONLineTokenizer(tokenizer: t)
        for bad in ["", "not json", "[1]", "{\"id\": 3}", "{\"text\": 5}", "{\"text\": \"a\"} x", "{\"text\": \"a\"",
                    "{\"text\": \"\\x\"}", "{\"text\": \"a\", }", "{\"text\": \"tab\there\"}", "{\"text\": \"a\", \"id\": 01}"] {
            if case .success(let out) = run(lines, bad) { XCTFail("accepted \(bad.debugDescription): \(out)") }
        }
        XCTAssertEqual(try? run(lines, "{\"id\": 3}").get(), nil)
        if case .failure(let e) = run(lines, "{\"id\": 3}") { XCTAssertTrue(e.message.contains("text"), e.message) }
    }
}

import Foundation
