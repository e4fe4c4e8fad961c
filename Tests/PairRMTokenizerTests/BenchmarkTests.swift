import Foundation
import XCTest
import PairRMFormat
@testable import PairRMTokenizer

/// Load time and single-thread throughput on the 1 MB benchmark corpus ($PAIRRM_BENCH_CORPUS, else
/// ../shared/vocab/bench-corpus.txt). Opt-in:
///   PAIRRM_TOKENIZER_BENCH=1 swift test -c release --filter PairRMTokenizerTests.BenchmarkTests
final class BenchmarkTests: XCTestCase {
    func testLoadAndThroughput() throws {
        guard ProcessInfo.processInfo.environment["PAIRRM_TOKENIZER_BENCH"] != nil else {
            throw XCTSkip("set PAIRRM_TOKENIZER_BENCH=1 (and use -c release)")
        }
        _ = try Fixtures.real()
        let view = try Fixtures.view(of: Fixtures.realContents())
        var loads: [Double] = []
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try Tokenizer(vocabulary: view)
            loads.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        print(String(format: "tokenizer load (128k pieces, from a VocabularyView): best %.2f ms, median %.2f ms",
                     loads.min()!, loads.sorted()[2]))
        func ms(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        let charsmapTime = try (0..<5).map { _ in try ms { _ = try Charsmap(blob: view.charsmap) } }.min()!
        let matcherTime = try (0..<5).map { _ in try ms { _ = try PieceMatcher(vocabulary: view) } }.min()!  // PTRI validation
        print(String(format: "  of which charsmap validation %.2f ms, piece trie (PTRI) validation %.2f ms", charsmapTime, matcherTime))
        let t = try Tokenizer(vocabulary: view)
        // The whole 1 MB corpus is not committed: $PAIRRM_BENCH_CORPUS, else ../shared/vocab.
        let corpusPath = ProcessInfo.processInfo.environment["PAIRRM_BENCH_CORPUS"]
            ?? Fixtures.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/vocab/bench-corpus.txt").path
        let paragraphs = try String(contentsOfFile: corpusPath, encoding: .utf8).split(separator: "\n").map(String.init)
        let bytes = paragraphs.reduce(0) { $0 + $1.utf8.count }
        for mode in [TokenizerMode.pairRM, .sentencePiece] {
            var best = Double.infinity
            var tokens = 0
            for _ in 0..<3 {
                tokens = 0
                let start = DispatchTime.now().uptimeNanoseconds
                for p in paragraphs { tokens += t.encode(p, mode: mode).count }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            print(String(format: "throughput %@: %d tokens, %.2f M tokens/s, %.1f MB/s (best of 3, 1 thread)",
                         "\(mode)", tokens, Double(tokens) / best / 1e6, Double(bytes) / best / 1e6))
        }
    }
}
