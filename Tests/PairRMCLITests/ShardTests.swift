import Foundation
import XCTest

/// `--shard I/N` on the JSONL commands: N shards together give every line's result exactly
/// once, each the same as in a whole run, and messages keep the whole input's line numbers.
extension CLIProcessTests {
    func testShardsPartitionTheInputAndKeepLineNumbers() throws {
        let lines = (0..<7).map { #"{"id":\#($0),"prompt":"2+\#($0)?","a":"\#($0 + 2)","b":"five"}"# }
            + [#"{"id":7,"prompt":"p","a":"x"}"#]   // line 8: no "b"
        let input = try temporaryFile("shard-input.jsonl", lines.joined(separator: "\n") + "\n")
        let model = try self.model
        let whole = try pairrm(["compare", "--model", model, "--input", input, "--on-error", "skip"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        var union: [String] = []
        for index in 0..<3 {
            let shard = try pairrm(["compare", "--model", model, "--input", input, "--on-error", "skip", "--shard", "\(index)/3"])
            XCTAssertEqual(shard.status, 0, shard.stderr)
            let expectedIDs = Array(stride(from: index, to: 8, by: 3))
            XCTAssertEqual(try shard.lines.map { try json($0)["id"] as? Int }, expectedIDs, "shard \(index)/3 holds lines \(index + 1), \(index + 4), …")
            if index == 1 { XCTAssertTrue(shard.stderr.contains("line 8:"), "whole-input line numbers: \(shard.stderr)") }
            union += shard.lines
        }
        XCTAssertEqual(union.sorted(), whole.lines.sorted(), "the shards together are the whole run")
        for bad in ["3/3", "-1/2", "1/0", "a/b", "1"] {
            let refused = try pairrm(["compare", "--model", model, "--input", input, "--shard", bad])
            XCTAssertEqual(refused.status, 64, "--shard \(bad): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.contains("--shard"), refused.stderr)
        }
    }
}
