import Foundation
import XCTest
@testable import PairRMTokenizer

final class RobustnessTests: XCTestCase {
    /// Byte API: each malformed byte is one U+FFFD (values from sentencepiece 0.2.3).
    func testInvalidUTF8() throws {
        let t = try Fixtures.real()
        let spm: [([UInt8], [Int32])] = [
            ([0x61, 0xFF, 0x62], [266, 243, 195, 193, 1285]),
            ([0xE2, 0x96], [507, 243, 195, 193, 243, 195, 193]),
            ([0x61, 0xE2, 0x96, 0x62, 0xC3], [266, 243, 195, 193, 243, 195, 193, 1285, 243, 195, 193]),
            ([0xF0, 0x9F, 0x98], [507, 243, 195, 193, 243, 195, 193, 243, 195, 193]),
        ]
        for (bytes, ids) in spm { XCTAssertEqual(t.encode(bytes: bytes, mode: .sentencePiece), ids, "\(bytes)") }
        // PairRM mode: the bytes are repaired to U+FFFD per byte, then the normal pipeline runs
        // (the charsmap maps U+FFFD to a space).
        XCTAssertEqual(t.encode(bytes: [0x61, 0xFF, 0x62]), t.encode("a\u{FFFD}b"))
        XCTAssertEqual(t.encode(bytes: [0x61, 0xFF, 0x62]), t.encode("a b"))
        XCTAssertEqual(t.encode(bytes: Array("valid ü".utf8)), t.encode("valid ü"))
        // Lone surrogate encodings and overlongs are malformed too.
        XCTAssertEqual(t.encode(bytes: [0xED, 0xA0, 0x80], mode: .sentencePiece).count, 1 + 9)
        XCTAssertEqual(t.encode(bytes: [0xC0, 0xAF], mode: .sentencePiece).count, 1 + 6)
    }

    func testControlsAndNUL() throws {
        let t = try Fixtures.real()
        XCTAssertEqual(t.encode("\u{0}", mode: .sentencePiece), [507, 4])
        XCTAssertEqual(t.encode("a\u{0}\u{0}b", mode: .sentencePiece), t.encode(bytes: [0x61, 0, 0, 0x62], mode: .sentencePiece))
        _ = t.encode("a\u{0}\u{1}\u{7F}\u{85}\u{9F}b")
        XCTAssertEqual(t.encode("\u{1}\u{2}\u{3}", mode: .sentencePiece), [])
    }

    func testLongUnknownRuns() throws {
        let t = try Fixtures.real()
        let run = String(repeating: "𪚥", count: 20_000)
        XCTAssertEqual(t.encode(run), [507, 3])
        let spm = t.encode(run, mode: .sentencePiece)
        XCTAssertEqual(spm.count, 1 + 4 * 20_000)
        XCTAssertEqual(t.decode(spm, mode: .sentencePiece), run)
        let zalgo = "Z" + String(repeating: "\u{301}\u{316}\u{334}", count: 3000) + "algo"
        _ = t.encode(zalgo)
        _ = t.encode(zalgo, mode: .sentencePiece)
    }

    /// Time grows linearly: a 1.6 MB single line costs about 16× a 100 kB one (bound 40×, so
    /// machine noise cannot fail it but a quadratic step would).
    func testLinearTimeOnLongSingleLine() throws {
        let t = try Fixtures.real()
        let unit = "The quick brown fox — ジャンプ 𪚥 over 12,345 lazy dogs; "
        let small = String(repeating: unit, count: 100_000 / unit.utf8.count)
        let large = String(repeating: unit, count: 1_600_000 / unit.utf8.count)
        let noSpaces = String(repeating: "abcdefgh", count: 200_000)   // one 1.6 MB "word"
        for mode in [TokenizerMode.pairRM, .sentencePiece] {
            // This thread's CPU time, best of three: other processes on a loaded machine take time
            // slices (wall time) but not this thread's CPU time.
            func time(_ s: String) -> Double {
                (0..<3).map { _ in
                    let start = threadCPUSeconds()
                    _ = t.encode(s, mode: mode)
                    return threadCPUSeconds() - start
                }.min()!
            }
            _ = time(small)
            let ratio = time(large) / time(small)
            print("linear-time \(mode): 16× input → \(ratio)× time")
            XCTAssertLessThan(ratio, 40, "\(mode)")
            let word = time(noSpaces) / time(small)
            XCTAssertLessThan(word, 60, "\(mode) single word")
        }
    }

    /// One tokenizer from many threads gives the same answers.
    func testConcurrentUse() throws {
        let t = try Fixtures.real()
        let texts = ["hello world", "漢字 😀", "<|source|>x", "a\u{301}b", "xmmmmmm"]
        let expected = texts.map { t.encode($0) }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            let k = i % texts.count
            XCTAssertEqual(t.encode(texts[k]), expected[k])
        }
    }
}

private func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + 1e-9 * Double(now.tv_nsec)
}
