import Foundation
import PairRMTestSupport
import XCTest

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
