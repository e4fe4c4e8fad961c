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

/// `--output` naming something other than a regular file: a FIFO (or a device such as
/// /dev/null) is written in place, never replaced by a regular file; a link to a regular file
/// keeps being a link and its target gets the output.
extension CLIProcessTests {
    func testOutputToAFIFOOrALinkWritesThroughIt() throws {
        let input = try temporaryFile("through-input.jsonl", #"{"id":1,"prompt":"2+2?","a":"4","b":"5"}"# + "\n")
        let model = try self.model
        let fifo = Self.scratch + "/out.fifo"
        unlink(fifo)
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let received = Locked("")
        let reader = Thread {
            if let handle = FileHandle(forReadingAtPath: fifo) { received.value = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
        }
        reader.start()
        let piped = try pairrm(["compare", "--model", model, "--input", input, "--output", fifo])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        for _ in 0..<500 where received.value.isEmpty { usleep(10_000) }
        XCTAssertTrue(received.value.contains(#""id":1"#), "the reader got the line: \(received.value)")
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, "the FIFO is still a FIFO")

        let target = Self.scratch + "/target.jsonl", link = Self.scratch + "/link.jsonl"
        unlink(link)
        FileManager.default.createFile(atPath: target, contents: Data("old\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let linked = try pairrm(["compare", "--model", model, "--input", input, "--output", link])
        XCTAssertEqual(linked.status, 0, linked.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), target, "the link stays a link")
        XCTAssertTrue(try String(contentsOfFile: target, encoding: .utf8).contains(#""id":1"#))
    }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
