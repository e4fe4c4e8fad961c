import PairRM
import PairRMProtocol
import XCTest
@testable import PairRM

/// The CLI's line semantics (the binary only adds file/stdin IO and the progress bar).
final class LineProcessorTests: XCTestCase {
    func lines(_ texts: [String]) -> [(number: Int, bytes: [UInt8])] {
        texts.enumerated().map { ($0 + 1, Array($1.utf8)) }
    }

    func failure(_ outcome: LineOutcome) -> LineFailure? {
        if case .failure(let f) = outcome { return f }
        return nil
    }

    func output(_ outcome: LineOutcome) throws -> JSONValue {
        guard case .output(let text) = outcome else { XCTFail("expected output, got \(outcome)"); return .null }
        XCTAssertFalse(text.contains("\n"))
        return try JSONValue.parse(text)
    }

    func testCompareLinesKeepOrderAndIDs() throws {
        let ranker = try TestSupport.ranker()
        let p = LineProcessor(task: .compare(mode: .both))
        var options = ranker.defaults
        options.batchSize = 3
        let outcomes = p.process(lines([
            #"{"id": 12345678901234567890, "prompt": "hello!", "a": "hi!", "b": "f**k off!"}"#,
            "   ",
            #"{"prompt": "I love you!", "a": "I hate you!", "b": "I love you, too!", "id": "x"}"#,
            #"{"id": [1], "prompt": "hello!", "a": "hi!", "b": "hi!"}"#,
        ]), ranker: ranker, options: options)
        XCTAssertEqual(outcomes.count, 4)
        let first = try output(outcomes[0])
        XCTAssertEqual(first["id"], .number("12345678901234567890"))  // echoed exactly
        let direct = try ranker.compare("hello!", "hi!", "f**k off!")
        XCTAssertEqual(first["logit"], .number(direct.logit))
        XCTAssertEqual(first["a_better"], .bool(direct.aBetter))
        guard case .blank = outcomes[1] else { return XCTFail("blank line") }
        XCTAssertEqual(try output(outcomes[2])["id"], .string("x"))
        let tie = try output(outcomes[3])
        XCTAssertEqual(tie["logit"], .number("0.0"))
        XCTAssertEqual(tie["a_better"], .bool(false))
        if case .output(let text) = outcomes[3] { XCTAssertTrue(text.hasPrefix(#"{"id":[1],"logit""#), text) }
    }

    func testBadLinesNameTheLine() throws {
        let ranker = try TestSupport.ranker()
        let compare = LineProcessor(task: .compare(mode: .both), maxLineBytes: 200)
        let outcomes = compare.process(lines([
            #"{"prompt": "p", "a": "x", "b": "y"}"#,
            #"{"prompt": "p", "a": "x""#,
            #"["prompt"]"#,
            #"{"id": 5, "prompt": "p", "a": "x"}"#,
            #"{"prompt": "p", "a": 3, "b": "y"}"#,
            #"{"prompt": "p", "a": "x", "b": "y"} trailing"#,
            "{\"prompt\": \"" + String(repeating: "z", count: 300) + "\", \"a\": \"x\", \"b\": \"y\"}",
            "{\"prompt\": \"tab\there\", \"a\": \"x\", \"b\": \"y\"}",
        ]), ranker: ranker)
        XCTAssertNil(failure(outcomes[0]))
        let messages = outcomes.dropFirst().map { failure($0)?.description ?? "no failure" }
        XCTAssertTrue(messages[0].hasPrefix("line 2: invalid JSON"), messages[0])
        XCTAssertTrue(messages[1].hasPrefix("line 3: expected a JSON object, found an array"), messages[1])
        XCTAssertTrue(messages[2].hasPrefix("line 4: missing field \"b\""), messages[2])
        XCTAssertEqual(failure(outcomes[3])?.id, .number("5"))
        XCTAssertEqual(failure(outcomes[3])?.record, #"{"id":5,"error":"line 4: missing field \"b\"; expected {\"prompt\": \"...\", \"a\": \"...\", \"b\": \"...\"} (optional \"instruction\", \"id\")"}"#)
        XCTAssertTrue(messages[3].hasPrefix("line 5: field \"a\" must be a string, found a number"), messages[3])
        XCTAssertTrue(messages[4].hasPrefix("line 6: invalid JSON at byte 37: unexpected text after the JSON value"), messages[4])
        XCTAssertTrue(messages[5].hasPrefix("line 7: the line is 334 bytes, over the 200-byte limit"), messages[5])
        XCTAssertTrue(messages[6].hasPrefix("line 8: invalid JSON at byte 16: control character"), messages[6])

        let rank = LineProcessor(task: .rank(strategy: .fullMatrix))
        let rankOutcomes = rank.process(lines([
            #"{"prompt": "p", "candidates": []}"#,
            #"{"prompt": "p", "candidates": ["a", 2]}"#,
            #"{"prompt": "p", "candidates": "a"}"#,
            #"{"prompt": "p", "candidates": ["a", "b", "a"], "id": 9}"#,
        ]), ranker: ranker)
        XCTAssertEqual(failure(rankOutcomes[0])?.description, "line 1: field \"candidates\" is an empty list; give at least one candidate")
        XCTAssertEqual(failure(rankOutcomes[1])?.description, "line 2: candidates[1] must be a string, found a number")
        XCTAssertTrue(failure(rankOutcomes[2])?.description.hasPrefix("line 3: field \"candidates\" must be an array of strings") == true)
        let ranked = try output(rankOutcomes[3])
        guard case .array(let ranks)? = ranked["ranks"] else { return XCTFail("ranks") }
        XCTAssertEqual(ranks[0], ranks[2])  // identical candidates tie
    }

    func testConversationLinesAreValidated() throws {
        let ranker = try TestSupport.ranker()
        let p = LineProcessor(task: .compareConversations(mode: .both))
        let good = #"{"id":1,"a":[{"role":"USER","content":"hello"},{"role":"ASSISTANT","content":"hi"}],"b":[{"role":"USER","content":"hello"},{"role":"ASSISTANT","content":"go away"}]}"#
        let outcomes = p.process(lines([
            good,
            #"{"a":[{"role":"USER","content":"hello"},{"role":"ASSISTANT","content":"hi"}],"b":[{"role":"USER","content":"hello"},{"role":"ASSISTANT","content":"hi"},{"role":"USER","content":"x"},{"role":"ASSISTANT","content":"y"}]}"#,
            #"{"a":[{"role":"USER","content":"hello"}],"b":[{"role":"USER","content":"hello"}]}"#,
            #"{"a":[{"role":"USER"}],"b":[]}"#,
        ]), ranker: ranker)
        let direct = try ranker.compareConversations([.user("hello"), .assistant("hi")], [.user("hello"), .assistant("go away")])
        XCTAssertEqual(try output(outcomes[0])["logit"], .number(direct.logit))
        XCTAssertTrue(failure(outcomes[1])!.description.contains("number of turns in each conversation must be the same"))
        XCTAssertTrue(failure(outcomes[2])!.description.contains("even number of turns"))
        XCTAssertEqual(failure(outcomes[3])?.description, "line 4: a[0] must be an object with string fields \"role\" and \"content\"")
    }

    func testSelectAndReferenceOutputs() throws {
        let ranker = try TestSupport.ranker()
        let candidates = ["He jumped from the second floor of the school.", "I do not know.", "He was a child."]
        let line = #"{"prompt": "What did the boy do when he was a child?", "candidates": ["He jumped from the second floor of the school.", "I do not know.", "He was a child."]}"#
        let best = try output(LineProcessor(task: .select(strategy: .bubble(startOrder: [2, 0, 1]), worst: false, returnAll: true))
            .process(Array(line.utf8), number: 1, ranker: ranker))
        let direct = try ranker.bestOfN("What did the boy do when he was a child?", candidates, strategy: .bubble(startOrder: [2, 0, 1]))
        XCTAssertEqual(best["best"], .string(candidates[direct.index]))
        XCTAssertEqual(best["index"], .number(direct.index))
        XCTAssertEqual(best["order"], .array(direct.order.map(JSONValue.number)))
        let worst = try output(LineProcessor(task: .select(strategy: .full, worst: true, returnAll: false))
            .process(Array(line.utf8), number: 1, ranker: ranker))
        XCTAssertNotNil(worst["worst"])
        XCTAssertNil(worst["order"])
        // A start order that does not fit the line is that line's error.
        let bad = LineProcessor(task: .select(strategy: .bubble(startOrder: [0, 1]), worst: false, returnAll: false))
            .process(Array(line.utf8), number: 4, ranker: ranker)
        XCTAssertTrue(failure(bad)!.description.hasPrefix("line 4: startOrder:"))
        let ref = try output(LineProcessor(task: .rankWithReference(mode: .shortest)).process(Array(line.utf8), number: 1, ranker: ranker))
        XCTAssertEqual(ref["reference"], .string("I do not know."))
        let merge = try output(LineProcessor(task: .rank(strategy: .mergeSort)).process(Array(line.utf8), number: 1, ranker: ranker))
        XCTAssertEqual(merge["scores"], .null)
    }

    func testTruncationCanBeRejected() throws {
        let ranker = try TestSupport.ranker()
        var options = ranker.defaults
        options.sourceMaxLength = 16
        options.candidateMaxLength = 8
        options.rejectTruncation = true
        let p = LineProcessor(task: .compare(mode: .ab))
        let long = String(repeating: "the old man went to school ", count: 10)
        let tooLong = p.process(Array(#"{"prompt": "\#(long)", "a": "x", "b": "y"}"#.utf8), number: 3, ranker: ranker, options: options)
        XCTAssertTrue(failure(tooLong)!.description.hasPrefix("line 3: prompt: instruction + prompt is"), "\(tooLong)")
        let fits = p.process(Array(#"{"prompt": "hello", "a": "x", "b": "y"}"#.utf8), number: 4, ranker: ranker, options: options)
        XCTAssertNil(failure(fits))
        options.rejectTruncation = false
        XCTAssertNil(failure(p.process(Array(#"{"prompt": "\#(long)", "a": "x", "b": "y"}"#.utf8), number: 3, ranker: ranker, options: options)))
    }

    func testJSONRoundTrip() throws {
        let text = #"{"s":"a\"b\\c\n\u00e9\ud83d\ude00\u2028","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[1,[],{}]}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value["s"], .string("a\"b\\c\né😀\u{2028}"))
        XCTAssertEqual(try JSONValue.parse(value.serialized), value)
        XCTAssertEqual(try JSONValue.string("a\u{1}").serialized, #""a\u0001""#)
        XCTAssertEqual(JSONValue.number(Float.nan), .null)
        XCTAssertEqual(JSONValue.number(Float(-0.0)).serialized, "-0.0")
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "tru", "{\"a\":1,}"] {
            XCTAssertThrowsError(try JSONValue.parse(bad), bad)
        }
    }
}
